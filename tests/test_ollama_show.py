"""/api/show, a GGUF file and the catalog describe a model the same way."""

import ggufs
import pytest
from test_gguf import CATALOG_MODELS, SHAPE_FIELDS

from fitadvisor.errors import FitAdvisorError
from fitadvisor.models import catalog
from fitadvisor.models.gguf import read_architecture
from fitadvisor.models.ollama_show import BlankedArray, architecture_from_show
from fitadvisor.ollama.responses import ShowInfo


@pytest.mark.parametrize("name", CATALOG_MODELS)
def test_show_gguf_and_catalog_agree(tmp_path, name):
    expected = catalog.resolve(name).architecture
    model = ggufs.from_architecture(expected, tokens=True)
    from_file = read_architecture(ggufs.write(model, tmp_path / "m.gguf"))
    from_show = architecture_from_show(ShowInfo.parse(ggufs.show_response(model, verbose=True)))
    assert from_show == from_file
    assert {f: getattr(from_show, f) for f in SHAPE_FIELDS} == {f: getattr(expected, f) for f in SHAPE_FIELDS}


@pytest.mark.parametrize("name", CATALOG_MODELS)
def test_non_verbose_show_is_enough_or_asks_for_verbose(tmp_path, name):
    """Ollama blanks arrays longer than five elements: scalar-keyed models still resolve, per-layer ones say so."""
    model = ggufs.from_architecture(catalog.resolve(name).architecture)
    blanked = [k for k, v in ggufs.show_response(model)["model_info"].items() if v == [] and not k.startswith("tokenizer.")]
    if blanked:
        with pytest.raises(BlankedArray):
            architecture_from_show(ShowInfo.parse(ggufs.show_response(model)))
    else:
        assert architecture_from_show(ShowInfo.parse(ggufs.show_response(model))) == architecture_from_show(ShowInfo.parse(ggufs.show_response(model, True)))


def test_projector_info_means_vision():
    model = ggufs.tiny_llama()
    show = {**ggufs.show_response(model), "projector_info": {"general.architecture": "clip"}}
    assert architecture_from_show(ShowInfo.parse(show)).vision and not architecture_from_show(ShowInfo.parse(ggufs.show_response(model))).vision


@pytest.mark.parametrize("broken, message", [
    ({"model_info": {}}, "no model_info"),
    ({"tensors": []}, "no tensor table"),
    ({"tensors": [{"name": "x"}]}, "malformed tensor table"),
    ({"tensors": [{"name": "x", "type": "Q9_Z", "shape": [32]}]}, "does not know"),
    ({"tensors": [{"name": "token_embd.weight", "type": "Q4_K", "shape": [256, 1024]}]}, "incomplete"),
])
def test_bad_show_answers_are_clear_errors(broken, message):
    show = {**ggufs.show_response(ggufs.tiny_llama()), **broken}
    with pytest.raises(FitAdvisorError, match=message):
        architecture_from_show(ShowInfo.parse(show))
