"""Actions the assistant may ask for with `[ACTION:...]` tags: parser, registry and handlers."""
