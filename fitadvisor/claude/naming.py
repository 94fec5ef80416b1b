"""The name of the derived model `apply` creates: its own module, so `recommend` can print it without loading the rest of
`configure`."""

from __future__ import annotations

from fitadvisor.units import ctx_argument


def derived_name(model: str, num_ctx: int) -> str:
    """`devstral-small-2:24b` at 64K -> `devstral-small-2-64k`, `gpt-oss:120b` -> `gpt-oss-120b-64k`.

    The model without namespace, plus its tag unless the tag is the one `latest` names (so two sizes of one
    family never share a derived model), plus the context.
    """
    from fitadvisor.models.catalog import ModelRef, find

    ref = ModelRef.parse(model)
    keeps_tag = ref.tag != "latest"
    if keeps_tag:
        named, latest = find(model), find(ref.model)
        keeps_tag = named is None or latest is None or named.reference != latest.reference
    return f"{ref.model}{'-' + ref.tag if keeps_tag else ''}-{ctx_argument(num_ctx)}"
