"""Jinja2 for the files fitadvisor writes: no HTML escaping, but every value goes through a quoting filter."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    from fitadvisor.claude import alias as shell
    from fitadvisor.claude import configure
    from fitadvisor.datafiles import read_template

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(read_template),
        autoescape=False,  # shell and Modelfile text, not HTML: quoting is the filters' job
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        sh_quote=shell.sh_quote, sh_value=shell.sh_value, fish_quote=shell.fish_quote, ps_quote=shell.ps_quote,
        comment=shell.comment, modelfile_word=configure.modelfile_word,
    )
    return environment


def render_template(template: str, /, **context) -> str:
    return _environment().get_template(template).render(**context)
