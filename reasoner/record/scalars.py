"""How a plain (unquoted) YAML scalar in a record is read: as a person reads it, or as text.

PyYAML resolves plain scalars by YAML 1.1, which changes what was written: `034` becomes 28
(octal), `1:30` becomes 90 (base 60), `0x1F` 31, `1_000` 1000, `NO`/`on`/`yes` booleans,
`.inf`/`.nan` floats, `2026-1-5` a date. Records use a smaller set of forms, YAML 1.2 core-like:

- integers: decimal digits with an optional sign, read in base 10 (`034` is 34: zeros in front
  of a number do not change it for a person, and never make it octal);
- floats: decimal with a point and/or an exponent (`2.5`, `.5`, `1e3`, `1.5E-2`);
- booleans: `true` / `false` (also `True`, `TRUE`, `False`, `FALSE`) only;
- null: `~`, `null` (`Null`, `NULL`) or nothing;
- everything else stays text as written (`0x1F`, `0o17`, `1:30`, `1_000`, `.inf`, `.nan`, `yes`,
  `NO`, `on`, `2026-11-23`): a number field then refuses it quoting it, a text field keeps it,
  a date field parses the text itself (YYYY-MM-DD only).
Numbers keep the text they were written as (SourceInt, SourceFloat), so a text field given `00123`
keeps "00123" and messages quote what was written. Mapping keys are always the text written
(`on:` is the key "on", `1:` the key "1").
"""

import re

import yaml

from .validator import SourceFloat, SourceInt

MAX_DIGITS = 100   # far beyond any real value; Python refuses ints of 4300+ digits

INT = re.compile(r"^[-+]?[0-9]+$")
FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$")
BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
MERGE = re.compile(r"^(?:<<)$")    # resolved only so that the loader can refuse it by name


class RecordResolver(yaml.resolver.BaseResolver):
    """Implicit tags for plain scalars: the forms above, nothing of YAML 1.1's others."""


for _tag, _regexp, _first in (
        ("tag:yaml.org,2002:bool", BOOL, list("tTfF")),
        ("tag:yaml.org,2002:int", INT, list("-+0123456789")),
        ("tag:yaml.org,2002:float", FLOAT, list("-+0123456789.")),
        ("tag:yaml.org,2002:null", NULL, ["~", "n", "N", ""]),
        ("tag:yaml.org,2002:merge", MERGE, ["<"])):
    RecordResolver.add_implicit_resolver(_tag, _regexp, _first)


def _too_long(text, node):
    if sum(c.isdigit() for c in text) > MAX_DIGITS:
        raise yaml.constructor.ConstructorError(None, None, f"a number longer than {MAX_DIGITS} digits", node.start_mark)


class ScalarConstructor(yaml.constructor.SafeConstructor):
    """Numbers in base 10 that remember their text; booleans only from true/false; keys as written."""

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        _too_long(text, node)
        if not INT.match(text):   # an explicit !!int tag on another form: never guess a base
            raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not a decimal whole number", node.start_mark)
        return SourceInt(int(text, 10), text)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node)
        _too_long(text, node)
        if not (FLOAT.match(text) or INT.match(text)):
            raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not a decimal number", node.start_mark)
        return SourceFloat(float(text), text)

    def construct_yaml_bool(self, node):
        text = self.construct_scalar(node)
        if not BOOL.match(text):
            raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not true or false", node.start_mark)
        return text.lower() == "true"

    def construct_mapping(self, node, deep=False):
        """Keys are the text written: YAML 1.1 would make `on:` True and `1:` the number 1."""
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)
        self.flatten_mapping(node)
        mapping = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
            else:
                raise yaml.constructor.ConstructorError(None, None, "a mapping or list used as a key, expected a field name",
                                                        key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


ScalarConstructor.add_constructor("tag:yaml.org,2002:int", ScalarConstructor.construct_yaml_int)
ScalarConstructor.add_constructor("tag:yaml.org,2002:float", ScalarConstructor.construct_yaml_float)
ScalarConstructor.add_constructor("tag:yaml.org,2002:bool", ScalarConstructor.construct_yaml_bool)
