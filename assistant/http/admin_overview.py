"""The console's overview page: today and the last 7 days at a glance, with small server-drawn charts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from assistant.http.admin_console import console_of, page
from assistant.http.charts import Series, bar_chart


async def overview(request: Request) -> Response:
    console = console_of(request)
    figures = await console.overview.read()
    labels = [day.day.strftime("%a") for day in figures.days]
    charts = {
        "texts": bar_chart(
            "Texts in and out per day, the last 7 days",
            labels,
            [
                Series("in", "#8e8e93", [day.inbound for day in figures.days]),
                Series("out", "#0a84ff", [day.outbound for day in figures.days]),
            ],
            shown=lambda value: f"{value:.0f}",
        ),
        "spend": bar_chart(
            "Spend per day in USD, the last 7 days",
            labels,
            [
                Series("texts", "#34c759", [day.spend.sms for day in figures.days]),
                Series("LLM", "#af52de", [day.spend.llm for day in figures.days]),
            ],
            shown=lambda value: f"${value:.2f}",
        ),
        "delivery": bar_chart(
            "Share of texts delivered per day, the last 7 days",
            labels,
            [Series("delivered", "#30b0c7", [(day.delivery.rate or 0) * 100 for day in figures.days])],
            shown=lambda value: f"{value:.0f} %",
        ),
    }
    return page(
        request,
        "overview.html",
        figures=figures,
        charts=charts,
        zone=console.business.timezone,
        llm_enabled=console.settings.llm_enabled,
    )


routes = [Route("/overview", overview)]
