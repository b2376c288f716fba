"""`eligo schema`: the patient record format as JSON Schema (draft 2020-12)."""

import click


@click.command("schema")
def schema_command():
    """Print the patient record format as JSON Schema (draft 2020-12).

    Generated from the same definition that validates records, so an EHR exporter can check what it
    sends. It describes the canonical form; Eligo's own validation also checks what a schema cannot
    say (unique ids, cross-references, units). Meaning of each field: docs/patient-record.md.
    """
    from ..record.jsonschema import dumps

    click.echo(dumps(), nl=False)
