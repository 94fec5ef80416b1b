"""Jinja2 for the files fitadvisor writes: no HTML escaping, but every value goes through a quoting filter."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    from fitadvisor.claude import quoting
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
        sh_quote=quoting.sh_quote, sh_value=quoting.sh_value, fish_quote=quoting.fish_quote, ps_quote=quoting.ps_quote,
        comment=quoting.comment, modelfile_word=quoting.modelfile_word,
    )
    return environment


def render_template(template: str, /, **context) -> str:
    return _environment().get_template(template).render(**context)
