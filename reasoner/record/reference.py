"""Reference vocabularies from facts/reference/: vertebrae, organs, labs, drugs."""

from dataclasses import dataclass
from functools import lru_cache

import yaml

from ..paths import reference_dir

# libyaml's safe loader when PyYAML has it (its wheels do): ~5x faster on our own reference
# files, which a cold `eligo check` reads every time.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(name):
    path = reference_dir() / name
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=SAFE_LOADER), path  # noqa: S506 - a safe loader


@dataclass(frozen=True)
class Reference:
    vertebrae: tuple
    organs: dict
    labs: dict
    drugs: dict          # canonical name -> class
    drug_aliases: dict   # any accepted spelling (lower case) -> canonical name
    files: tuple         # the reference files, for provenance and the rule-set hash

    def canonical_drug(self, name):
        return self.drug_aliases.get(" ".join(str(name).lower().split()))


@lru_cache(maxsize=1)
def reference() -> Reference:
    vertebrae, vfile = _load("vertebrae.yaml")
    organs, ofile = _load("organs.yaml")
    labs, lfile = _load("labs.yaml")
    drugs, dfile = _load("drugs.yaml")
    classes, aliases = {}, {}
    for name, entry in drugs["drugs"].items():
        classes[name] = entry["class"]
        aliases[name] = name
        for alias in entry.get("aliases", []):
            aliases[alias.lower()] = name
    return Reference(
        vertebrae=tuple(vertebrae["order"]),
        organs=organs["organs"],
        labs=labs["tests"],
        drugs=classes,
        drug_aliases=aliases,
        files=(vfile, ofile, lfile, dfile),
    )
