"""What a first `recommend` would derive, derived when the wheel is built, as pip compiles bytecode at install.

A run keeps what it derives (the parsed tables, the catalog's sizes, the graph replays) in the user's
cache (`datafiles.Derived`); the first run after an install or upgrade has none of it and replays dozens
of compute graphs. The wheel's build (setup.py) runs this module over the built package with an empty
cache and ships what it derived in `fitadvisor/derived/`; `Derived` reads an entry from there when the
user's cache lacks it. The entries carry the same stamp (fitadvisor's version, a checksum of the inputs
they come from), so a shipped entry is only used by the code and data it was derived from.

    python -m fitadvisor.flows.prederive TARGET

Derived: every data table, and every catalog model at every context `recommend` tries from its default
minimum with the settings it may pick on any machine for the newest modelled release (`SETTINGS`, one
slot, drafting as the model's own parameters ask). Other settings, releases and models are derived on first use, as before.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# flash attention, cache type, and the physical batches Release.batch picks with them: flash attention is off by default
# only on CUDA GPUs without it, where the batch is 256 or 512; q8_0 is what recommend suggests when it fits more
SETTINGS = (("on", "f16", (512, 1024, 2048)), ("on", "q8_0", (512, 1024, 2048)), ("off", "f16", (256, 512)))


def derive_all() -> int:
    """Derive into the current cache what recommend's estimates need; returns how many estimates were made."""
    from fitadvisor.datafiles import read_toml, table_names
    from fitadvisor.memory.estimate import Settings, estimate
    from fitadvisor.models import catalog
    from fitadvisor.recommend.rank import Candidate, contexts, default_min_ctx

    for name in table_names():
        read_toml(name)
    made, min_ctx = 0, default_min_ctx()
    for model in catalog.load():
        arch, candidate = model.architecture, Candidate.of_catalog(model, installed=False)
        for flash_attention, cache_type, batches in SETTINGS:
            for batch in batches:
                for ctx in contexts(arch.context_length, min_ctx):
                    settings = Settings(kv_cache_type=cache_type, flash_attention=flash_attention, num_ctx=ctx, batch=batch)
                    estimate(arch, candidate.settings(settings), model=model.reference)
                    made += 1
    return made


def main(target: str) -> None:
    """Derive from nothing (an empty cache of its own, no shipped entries), then copy the derived files to `target`."""
    from fitadvisor import datafiles

    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        datafiles.SHIPPED = Path(cache) / "shipped"  # nothing there: a package already holding derived files is not read
        made = derive_all()
        datafiles.flush_derived()
        shutil.rmtree(target, ignore_errors=True)  # a kind no longer derived must not linger from an earlier build
        Path(target).mkdir(parents=True)
        for path in datafiles.derived_dir().glob("*.json"):
            shutil.copyfile(path, Path(target) / path.name)
    print(f"fitadvisor: derived {made} estimates into {target}")


if __name__ == "__main__":
    main(sys.argv[1])
