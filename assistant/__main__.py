"""`python -m assistant` is the `sms-assistant` command."""

from assistant.cli import main

raise SystemExit(main())
