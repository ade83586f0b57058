"""Render prompt templates in a Jinja2 sandbox with bounded time and output."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator
from jinja2.meta import TrackingCodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

TEMPLATE_DIR = Path(__file__).resolve().parent
MAX_OUTPUT_CHARS = 20_000
MAX_RENDER_SECONDS = 2.0
# Compiled templates kept per process, by their source text: a saved edit is new text, so it compiles anew.
COMPILED_TEMPLATES = 128


class PromptError(Exception):
    """A template failed to render; the message is safe to show staff."""


# A printf-style field's width and precision: "%0999999999d" would build a gigabyte.
_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d+))?")


class _NoFolding(CodeGenerator):
    """Compiles without evaluating anything: Jinja folds constant expressions (`2**10**8`, a filter on a
    literal) while compiling, where the sandbox's limits don't apply."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimizer = None

    def _output_child_to_const(self, node: nodes.Expr, frame: Any, finalize: Any) -> str:
        # Literal text is safe to fold, and folding it keeps renders fast.
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)


class _VariableFinder(TrackingCodeGenerator, _NoFolding):
    """Jinja's undeclared-variable tracker, compiling the same way."""


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, refusing operators that could build huge values ('a' * 10**9)."""

    code_generator_class = _NoFolding
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and right > 64:
            raise SecurityError("exponent too large")
        if operator == "%" and isinstance(left, str):
            widths = (int(n) for found in _FORMAT_WIDTH.finditer(left) for n in found.groups() if n)
            if any(width > MAX_OUTPUT_CHARS for width in widths):
                raise SecurityError("format width too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_OUTPUT_CHARS:
                    raise SecurityError("repetition too large")
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str | list | tuple) and len(result) > MAX_OUTPUT_CHARS:
            raise SecurityError("value too large")
        return result


def template_variables(source: str) -> set[str]:
    """The top-level names a template reads (its loop variables and `set`s excluded); evaluates nothing.

    Raises TemplateSyntaxError for source that doesn't parse.
    """
    environment = _BoundedSandbox()
    try:
        tree = environment.parse(source)
    except ValueError as exc:  # an integer literal too long to convert
        raise TemplateSyntaxError(str(exc), 1) from None
    finder = _VariableFinder(environment)
    finder.visit(tree)
    return finder.undeclared_identifiers - set(environment.globals)


class TemplateSource:
    """Where template source comes from: the files shipped in `prompts/` (staff versions layer on top)."""

    def __init__(self, directory: Path = TEMPLATE_DIR) -> None:
        self._directory = directory
        self._files: dict[str, tuple[int, str]] = {}  # name: (modification time, text)

    def names(self) -> list[str]:
        return sorted(path.stem for path in self._directory.glob("*.j2"))

    async def get(self, name: str) -> str:
        path = self._directory / f"{name}.j2"
        try:
            found = os.stat(path)  # one system call per render; an edited file is read again
        except OSError:
            found = None
        if found is None or not S_ISREG(found.st_mode):
            raise PromptError(f"no template named {name!r}")
        known = self._files.get(name)
        if known is None or known[0] != found.st_mtime_ns:
            known = self._files[name] = (found.st_mtime_ns, path.read_text(encoding="utf-8"))
        return known[1]

    async def shipped(self, name: str) -> str:
        """The file's text, ignoring any saved versions."""
        return await TemplateSource.get(self, name)


class PromptRenderer:
    """Renders named templates from plain dicts; user text is only ever a value, never source."""

    def __init__(self, source: TemplateSource | None = None) -> None:
        self.source = source or TemplateSource()
        self._env = _BoundedSandbox(
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._compile = lru_cache(maxsize=COMPILED_TEMPLATES)(self._env.from_string)

    async def render(self, name: str, values: Mapping[str, Any]) -> str:
        return self.render_source(await self.source.get(name), values)

    def localized(self, name: str, language: str) -> str:
        """The template for `name` in `language` ("help_es"), when there is one; else `name` itself."""
        translated = f"{name}_{language}"
        return translated if translated in self.source.names() else name

    def render_source(self, source: str, values: Mapping[str, Any]) -> str:
        """Render template text, stopping at the output cap or the time limit."""
        deadline = time.monotonic() + MAX_RENDER_SECONDS
        try:
            template = self._compile(source)
            parts: list[str] = []
            size = 0
            for chunk in template.generate(dict(values)):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise PromptError(f"template output is longer than {MAX_OUTPUT_CHARS} characters")
                if time.monotonic() > deadline:
                    raise PromptError(f"template took longer than {MAX_RENDER_SECONDS:g} s to render")
                parts.append(chunk)
        except PromptError:
            raise
        except SecurityError as exc:
            raise PromptError(f"not allowed in a template: {exc}") from None
        except TemplateError as exc:
            raise PromptError(f"template error: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
            raise PromptError(f"template error: {exc}") from None
        except RecursionError:  # a macro that calls itself: an error to show, not a crash
            raise PromptError("template error: it calls itself too deeply") from None
        return "".join(parts).strip()
