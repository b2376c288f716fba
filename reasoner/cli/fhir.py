"""`eligo import-fhir BUNDLE.json [-o record.yaml]`: a FHIR R4 / mCODE Bundle or resource -> a record.

The written record is one `eligo check` accepts as it is; review it (incomplete_sections, what the
warnings say was left out) before relying on it. Mapping: docs/fhir-mapping.md.
"""

import datetime as dt
import json
import os

import click
import yaml

from ..errors import visible
from ..render.files import check_outputs, output_locks, write_atomic
from .main import AS_OF
from .options import RULES


class _Dumper(yaml.SafeDumper):
    """Plain YAML: records refuse anchors/aliases, so equal dates are written out each time."""

    def ignore_aliases(self, data):
        return True


def dump(record, fmt):
    if fmt == "json":
        return json.dumps(record, indent=1, default=lambda v: v.isoformat() if isinstance(v, dt.date) else str(v)) + "\n"
    return yaml.dump(record, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


@click.command("import-fhir")
@click.argument("bundle", type=click.Path(dir_okay=True, path_type=str))
@click.option("-o", "--output", default="-", metavar="FILE", show_default=True,
              help="Where to write the record: a .json file gets JSON, any other YAML; - is stdout.")
@AS_OF
@RULES
def import_fhir_command(bundle, output, as_of):
    """Turn BUNDLE (a FHIR R4 Bundle or single resource, JSON) into an Eligo patient record.

    What FHIR does not say stays out (unknown); each skipped resource or value is reported on
    stderr as `warning: Type/id: why`. `eligo check` also reads FHIR directly.
    """
    from ..fhir.importer import import_fhir
    from ..pipeline import validate
    from ..record.read import parse_text, read_bytes

    if output != "-":
        check_outputs([("-o", output)], [("bundle", bundle)], [("bundle folder", bundle)] if os.path.isdir(bundle) else [])
    imported = import_fhir(parse_text(read_bytes(bundle), bundle), bundle, as_of)
    for line in imported.warnings:
        click.echo(f"warning: {visible(line)}", err=True)
    validate(imported.record, bundle, as_of)   # never write a record that check would refuse
    fmt = "json" if output.lower().endswith(".json") else "yaml"
    header = "" if fmt == "json" else (
        f"# Imported from {visible(bundle)} by eligo import-fhir ({len(imported.warnings)} warnings).\n"
        "# incomplete_sections: lists FHIR does not state complete; sources: where each field came from.\n")
    text = header + dump(imported.record, fmt)
    if output == "-":
        click.echo(text, nl=False)
        return
    with output_locks([("-o", output)]):
        write_atomic(output, text, "record", label="-o")
