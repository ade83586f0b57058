"""Staff-editable Jinja2 templates (the files here are the defaults) and their sandboxed renderer."""
