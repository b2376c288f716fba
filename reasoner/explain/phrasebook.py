"""Every human word of an explanation, in one place: renderers only lay out the labels made here.

Atoms are phrased from a template per predicate ({0} = first argument after the patient); a
predicate without one (a trial's helper) is shown as written, `pred(args)`, which is exact if
terse. Values are shown as the record holds them: day numbers as dates, lab values (integers
x 1000 in the canonical unit) as decimals with their unit.
"""

import ast
import datetime as dt

from ..errors import InputError
from ..logic.clauses import Aggregate, Atom, Comparison, FunctionValue
from ..logic.proofs import MAX_ATTEMPTS as MAX_SHOWN
from ..record.predicates import BASE
from ..record.reference import reference

PATIENT = "patient"
ANY = "(any)"

BASE_PHRASES = {
    "as_of": "evaluated as of {0}",
    "recorded": "section {0} recorded",
    "sex": "sex: {0}",
    "age_at": "age {1} years on {0}",
    "trial_planned": "planned {1} for {0}: {2}",
    "earliest_trial_day": "{0} date not before {1}",
    "planned": "planned {0}: {1}",
    "confirmation": "diagnosis confirmed by: {0}",
    "invasive": "invasive breast cancer: {0}",
    "presentation": "presentation: {0}",
    "metastatic_dx_day": "metastatic disease diagnosed on {0}",
    "receptor": "{0} status: {1}",
    "receptor_source": "{0} tested on: {1}",
    "receptor_percent": "{0} stained nuclei: {1}%",
    "primary_side": "primary tumour side: {0}",
    "primary_dx_day": "primary tumour diagnosed on {0}",
    "primary_controlled": "primary tumour controlled: {0}",
    "primary_present": "primary tumour present: {0}",
    "recurrence": "recurrence {0}: {1}",
    "recurrence_day": "recurrence {0} on {1}",
    "recurrence_controlled": "recurrence {0} controlled: {1}",
    "recurrence_present": "recurrence {0} present: {1}",
    "lesion": "lesion {0} in {1}",
    "metastatic_site": "metastasis recorded in {0} (lesions not listed)",
    "lesion_size_mm": "lesion {0}: {1} mm",
    "lesion_measurable": "lesion {0} measurable: {1}",
    "lesion_detected_day": "lesion {0} detected on {1}",
    "lesion_detected_by": "lesion {0} detected by {1}",
    "lesion_pathology": "lesion {0} confirmed by pathology: {1}",
    "lesion_symptomatic": "lesion {0} symptomatic: {1}",
    "lesion_amenable": "lesion {0} amenable to local therapy: {1}",
    "lesion_bone": "lesion {0} bone: {1}",
    "lesion_side": "lesion {0} side: {1}",
    "lesion_part": "lesion {0} part of bone: {1}",
    "lesion_vertebra": "lesion {0} involves vertebra {1}",
    "lesion_adjacency_recorded": "lesion {0}: neighbouring organs recorded",
    "lesion_adjacent": "lesion {0} abuts {1}",
    "lesion_canal_pct": "lesion {0}: spinal canal compromise {1}%",
    "lesion_bilsky": "lesion {0}: Bilsky grade {1}",
    "lesion_cortical_pct": "lesion {0}: cortical defect {1}%",
    "lesion_progressing": "lesion {0} progressing on the current therapy: {1}",
    "lesion_change": "lesion {0} {1}: {2} at the start of the current therapy, {3} now",
    "lesion_present": "lesion {0} still visible on the latest imaging: {1}",
    "locoregional_lesion": "locoregional lesion {0} in {1}",
    "lesion_amenable_for": "lesion {0}: local therapy of {1} feasible: {2}",
    "locoregional_amenable": "locoregional lesion {0} amenable to local therapy: {1}",
    "imaging": "imaging {0}: {1} on {2}",
    "imaging_purpose": "imaging {0} purpose: {1}",
    "imaging_regimen": "imaging {0} belongs to regimen {1}",
    "imaging_use": "imaging {0} is the {1} study of regimen {2}",
    "imaging_confirmed": "imaging {0} confirmed its finding: {1}",
    "regimen_imaging_months": "imaging {1} was {2} whole months after regimen {0} started",
    "imaging_region": "imaging {0} covered {1}",
    "imaging_contrast": "imaging {0} contrast-enhanced: {1}",
    "imaging_response": "imaging {0} overall response: {1}",
    "regimen": "regimen {0}: {1} setting, started {2}",
    "regimen_drug": "regimen {0} includes {1}",
    "regimen_planned": "regimen {0}: {1} setting, planned to start {2} (not yet started)",
    "regimen_protocol": "regimen {0} is the protocol therapy of {1}",
    "regimen_courses_planned": "regimen {0}: {1} courses planned",
    "regimen_courses_given": "regimen {0}: {1} courses given",
    "regimen_end": "regimen {0} ended on {1}",
    "regimen_ongoing": "regimen {0} ongoing: {1}",
    "regimen_response": "regimen {0} {1} response: {2}",
    "regimen_evaluations": "regimen {0}: {1} tumour evaluations",
    "regimen_stop": "regimen {0} stopped because: {1}",
    "regimen_end_months_to_metastasis": "regimen {0} ended {1} whole months before metastatic diagnosis",
    "radiotherapy": "radiotherapy course {0}",
    "radiotherapy_day": "radiotherapy {0} on {1}",
    "radiotherapy_lesion": "radiotherapy {0} treated lesion {1}",
    "radiotherapy_intent": "radiotherapy {0} intent: {1}",
    "radiotherapy_lesions_recorded": "radiotherapy {0}: treated lesions recorded",
    "surgery": "surgery {0}: {1}",
    "surgery_day": "surgery {0} on {1}",
    "surgery_target": "surgery {0} target: {1}",
    "surgery_intent": "surgery {0} intent: {1}",
    "surgery_side": "surgery {0} side: {1}",
    "surgery_lesion": "surgery {0} removed lesion {1}",
    "surgery_months_to_metastasis": "surgery {0} was {1} whole months before metastatic diagnosis",
    "lab": "{1} {2} on {3} ({0})",
    "lab_uln": "{0} upper limit of normal: {1}",
    "lab_lln": "{0} lower limit of normal: {1}",
    "lab_uln_pair": "{0} as recorded: value {1}, upper limit of normal {2}",
    "assay": "{1} test {0}: {2} on {3}",
    "assay_laboratory": "test {0} done by the {1} laboratory",
    "performance": "{1} performance status {2} on {3}",
    "childbearing_potential": "childbearing potential: {0}",
    "pregnant": "pregnant: {0}",
    "breastfeeding": "breastfeeding: {0}",
    "contraception": "willing to use effective contraception: {0}",
    "last_delivery_day": "last delivery on {0}",
    "pregnancy_test": "pregnancy test {0}: {1} on {2}",
    "other_malignancy": "other malignancy {0}: {1}",
    "malignancy_dx_day": "malignancy {0} diagnosed on {1}",
    "malignancy_years_at": "malignancy {0} diagnosed {2} whole years before {1}",
    "malignancy_status": "malignancy {0} status: {1}",
    "malignancy_requires_therapy": "malignancy {0} requires therapy: {1}",
    "malignancy_radically_treated": "malignancy {0} radically treated: {1}",
    "malignancy_treatment_end_day": "malignancy {0} treatment ended on {1}",
    "malignancy_treatment": "malignancy {0} treated by {1}",
    "malignancy_treatments_recorded": "malignancy {0}: treatments recorded",
    "malignancy_treatment_years_at": "malignancy {0}: treatment ended {2} whole years before {1}",
    "comorbidity": "comorbidity {0}: {1}",
    "comorbidity_status": "comorbidity {0} status: {1}",
    "comorbidity_months_at": "comorbidity {0} dated {2} whole months before {1}",
    "comorbidity_nyha": "comorbidity {0}: NYHA class {1}",
    "toxicity": "toxicity {0}: {1} grade {2}",
    "toxicity_stable": "toxicity {0} stable: {1}",
    "finding": "{0}: {1}",
    "life_expectancy_months": "life expectancy {0} months",
    "life_expectancy_over": "life expectancy judged more than {0} months",
    "child_pugh": "Child-Pugh class {0}",
    "consent_signed": "informed consent signed: {0}",
    "consent_day": "informed consent signed on {0}",
    "other_trial": "participation in another trial: {0}",
    "other_trial_start": "other trial {0} started on {1}",
    "other_trial_end": "other trial {0} ended on {1}",
    "other_trial_ongoing": "other trial {0} ongoing: {1}",
    "other_trials_since": "other trials listed completely from {0} on",
    "attested": "investigator's answer for {0}/{1}: {2}",
    "organ_class": "{0} is {1}",
    "vertebra_next": "{1} lies right below {0}",
    "drug_class": "{0} is {1}",
}

DERIVED_PHRASES = {
    "has_lesion": "at least one metastatic lesion",
    "has_lesion_in": "a lesion in {0}",
    "has_lesion_class": "a lesion in an organ classed {0}",
    "n_lesions": "{0} metastatic lesions",
    "n_organs": "{0} organs involved",
    "lesion_size_known": "size of lesion {0} recorded",
    "largest_lesion_mm": "largest lesion {0} mm",
    "lesion_bone_unknown": "bone of lesion {0} not recorded",
    "lesion_bone_known": "bone of lesion {0} recorded",
    "some_bone_unknown": "a bone lesion whose bone is not recorded",
    "vertebra_involved": "vertebra {0} involved",
    "has_vertebral_lesion": "a vertebral lesion",
    "vertebral_run": "run of {2} consecutive vertebrae involved: {0} to {1}",
    "longest_vertebral_run": "longest run of consecutive vertebrae involved: {0}",
    "newer_lab": "a newer result of the same test than {0}",
    "latest_lab": "latest {0}: {2} on {3} ({1})",
    "lab_below_uln_times": "latest {0} below {1} x ULN",
    "lab_not_below_uln_times": "latest {0} at or above {1} x ULN",
    "ecog_grade": "performance grade {0} on {1}",
    "latest_ecog": "latest ECOG/WHO grade {0} (on {1})",
    "anticancer_drug": "regimen {0} includes anticancer drug {1}",
    "metastatic_regimen": "metastatic regimen {0}, started {1}",
    "has_metastatic_regimen": "a metastatic regimen",
    "earlier_metastatic": "metastatic regimen {1} started before {0}",
    "regimen_between": "a metastatic regimen between {0} and {1}",
    "previous_regimen": "regimen {1} came right before {0}",
    "adds_drug": "regimen {0} adds a drug to the one before",
    "continues_line": "regimen {0} continues the previous line",
    "new_line": "regimen {0} starts a new line",
    "metastatic_lines": "{0} lines of metastatic therapy",
    "progressed_on": "disease progressed on regimen {0}",
    "not_progressed_on": "regimen {0} stopped for a reason other than progression",
    "line_change_after_progression": "new line {0} after progression",
    "regimen_stopped": "regimen {0} stopped",
    "ongoing_metastatic": "metastatic regimen {0} ongoing",
    "maybe_ongoing_metastatic": "metastatic regimen {0} possibly ongoing",
    "possibly_on_metastatic_therapy": "possibly on metastatic therapy",
    "lab_at_most_uln_pct": "latest {0} at most {1}% of ULN",
    "lab_above_uln_pct": "latest {0} above {1}% of ULN",
    "latest_ecog_by": "latest ECOG/WHO grade by {0}: {1} (on {2})",
    "reference_day": "{0} is a planned trial date",
    "line_head": "regimen {0} belongs to the line started by {1}",
    "line_number": "regimen {0} is in line {1}",
    "life_expectancy_beyond": "life expectancy beyond {0} months",
}

# Aggregate functions: what they count or pick.
FUNCTION_NOUNS = {
    "lesion_count": "metastatic lesions",
    "organ_count": "organs",
    "line_count": "lines of metastatic therapy",
    "largest_size": "largest lesion size",
    "longest_run": "longest run of consecutive vertebrae",
    "last_ecog_day": "latest performance status date",
    "worst_ecog_on": "worst grade that day",
    "last_ecog_day_by": "latest performance status date",
    "line_rank": "line number",
}

LAB_VALUE = {"lab": (1, 2), "latest_lab": (0, 2)}   # (test, value) positions after the patient

# Lab value against a multiple of the ULN (rules/lib/measures.dl): the multiple's scale (K = 30 in
# tenths is 3.0 x ULN; K = 125 in percent is 1.25 x ULN) and the comparison the rule makes.
ULN_RULES = {"lab_below_uln_times": (10, "<"), "lab_not_below_uln_times": (10, ">="),
             "lab_at_most_uln_pct": (100, "<="), "lab_above_uln_pct": (100, ">")}

# A record value's unit from the predicate that holds it, for comparisons shown in the record's
# units ("lesion size 60 mm > 50 mm"): the predicate name's suffix names the unit of its last argument.
UNIT_SUFFIXES = {"_mm": "mm", "_pct": "%", "_months": "months", "_years": "years", "_percent": "%"}

# A recursive rule's chain, condensed to one line naming its members: the head argument that
# grows along the chain and the words ({members}, {count} = the length of the chain).
CHAIN_PHRASES = {"vertebral_run": (2, "vertebrae {members} involved, consecutive: a run of {count}")}

# Derived predicates whose words already state their negated conditions ("latest" = no newer one,
# "right before" = none between): a condensed proof does not repeat those negations.
NEGATION_IN_WORDS = {"latest_lab", "latest_ecog", "latest_ecog_by", "previous_regimen", "line_head"} | {
    # each trial's reference date: the shared date.* unless the trial has its own (dates.by_trial)
    f"{trial}_{which}" for trial in ("taormina", "cosmo", "nct04158843", "nct04646564", "oligami")
    for which in ("date", "earliest")}

# K in lab_*_uln_times is in tenths (K = 30 means 3.0 x ULN).
TENTHS = {("lab_below_uln_times", 2), ("lab_not_below_uln_times", 2)}

SIDE_WORDS = {
    ("inclusion", "holds"): "{0} met",
    ("inclusion", "lacks"): "{0} not met",
    ("exclusion", "holds"): "exclusion {0} applies",
    ("exclusion", "lacks"): "exclusion {0} does not apply",
}
OUTCOME_WORDS = {"pass": "pass", "fail": "FAIL", "unknown": "unknown"}


def value_kinds(book):
    """{pred: {position: 'day' | 'milli'}} for base and derived predicates, so values print as dates
    and decimals. Base positions come from predicates.py argument names; derived ones follow the
    variables through the clauses (a fixpoint, since rules call rules)."""
    kinds = {}
    for pred in BASE.values():
        offset = 1 if pred.patient else 0
        kinds[pred.name] = {i + offset: _base_kind(name) for i, name in enumerate(pred.args) if _base_kind(name)}
    changed = True
    while changed:
        changed = False
        for clause in book.clauses:
            var_kinds = _clause_kinds(clause, kinds)
            head = clause.head
            args = head.args + ((head.target,) if isinstance(head, Aggregate) and head.agg in ("max_", "min_") else ())
            found = kinds.setdefault(head.pred, {})
            for pos, term in enumerate(args):
                kind = var_kinds.get(getattr(term, "name", None))
                if kind and found.get(pos) != kind:
                    found[pos] = kind
                    changed = True
    return kinds


_CLAUSE_KINDS = {}


def clause_kinds(clause, kinds):
    """{variable: kind} from the positions each variable takes in the clause body (cached once the
    kinds are complete, i.e. for a Phrasebook's own table)."""
    key = (id(kinds), clause.where, clause.text)
    if key not in _CLAUSE_KINDS:
        _CLAUSE_KINDS[key] = _clause_kinds(clause, kinds)
    return _CLAUSE_KINDS[key]


def _clause_kinds(clause, kinds):
    out = {}
    for lit in clause.body:
        if isinstance(lit, (Atom, FunctionValue)):
            args = lit.args + ((lit.value,) if isinstance(lit, FunctionValue) else ())
            for pos, term in enumerate(args):
                kind = kinds.get(lit.pred, {}).get(pos)
                if kind and hasattr(term, "name"):
                    out.setdefault(term.name, kind)
        elif isinstance(lit, Comparison) and lit.op == "==" and isinstance(lit.left, ast.Name):
            names = [n.id for n in ast.walk(lit.right) if isinstance(n, ast.Name)]
            if names and names[0] in out:
                out.setdefault(lit.left.id, out[names[0]])
    for i, term in enumerate(clause.head.args):
        kind = kinds.get(clause.head.pred, {}).get(i)
        if kind and hasattr(term, "name"):
            out.setdefault(term.name, kind)
    return out


def _base_kind(name):
    if name in ("Day", "Start"):
        return "day"
    if name.startswith("Milli"):
        return "milli"
    if name.startswith("Micro"):
        return "micro"
    return None


def show(value, kind=None):
    """One value as a reader knows it."""
    if value is None:
        return ANY
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "day" and isinstance(value, int):
        try:
            return dt.date.fromordinal(value).isoformat()
        except (ValueError, OverflowError):
            return str(value)
    if kind == "milli" and isinstance(value, (int, float)):
        return _number(value / 1000)
    if kind == "micro" and isinstance(value, (int, float)):
        return _number(value / 10**6)
    if kind == "tenths" and isinstance(value, (int, float)):
        return _number(value / 10)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def _number(x):
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


class Phrasebook:
    def __init__(self, book):
        self.book = book
        self.kinds = value_kinds(book)
        self.labs = reference().labs
        self.annotated = {pred: phrase.template for pred, phrase in getattr(book, "phrases", {}).items()}

    def has_words(self, pred):
        """Whether pred reads as words (a base or derived phrase, an aggregate's noun, or a `#:`
        annotation beside its rules)."""
        return pred in BASE_PHRASES or pred in DERIVED_PHRASES or pred in FUNCTION_NOUNS or pred in self.annotated

    # -- atoms and values -----------------------------------------------------------------------
    def values(self, pred, args, free=ANY):
        """Shown values of args after the patient (None = any)."""
        kinds = self.kinds.get(pred, {})
        start = 1 if args and args[0] == PATIENT else 0
        out = []
        for pos in range(start, len(args)):
            kind = "tenths" if (pred, pos) in TENTHS else kinds.get(pos)
            out.append(free if args[pos] is None else show(args[pos], kind))
        if pred in LAB_VALUE:
            test_pos, value_pos = LAB_VALUE[pred]
            test = args[start + test_pos] if len(args) > start + value_pos else None
            unit = self.labs.get(test, {}).get("unit") if isinstance(test, str) else None
            if unit and args[start + value_pos] is not None:
                out[value_pos] = f"{out[value_pos]} {unit}"
        return out

    def atom(self, pred, args):
        """pred(args) in words; args include the patient (dropped) and may hold None (any)."""
        if pred in ("crit_holds", "crit_lacks"):
            return self.criterion_side(args[1], args[2], "holds" if pred == "crit_holds" else "lacks")
        template = BASE_PHRASES.get(pred) or DERIVED_PHRASES.get(pred) or self.annotated.get(pred)
        if template:
            try:
                return template.format(*self.values(pred, args))
            except IndexError:
                pass
        values = self.values(pred, args, free="_")
        return f"{pred}({', '.join(values)})" if values else pred

    def criterion_side(self, trial, cid, side):
        kind = self._criterion_kind(trial, cid)
        return SIDE_WORDS.get((kind, side), "{0} " + side).format(cid)

    def _criterion_kind(self, trial, cid):
        try:
            return self.book.trial(trial).criterion(cid).kind
        except (KeyError, InputError):   # wording only: an unknown id reads plainly
            return None

    # -- node labels ---------------------------------------------------------------------------
    def trial(self, tv, patient, as_of):
        trial = tv.trial
        stage = f" [{tv.stage} registration]" if tv.stage else ""
        registry = f" ({trial.registry})" if trial.registry else ""
        n = len(tv.criteria)
        if tv.verdict == "eligible":
            why = f"all {n} criteria met"
        elif tv.verdict == "ineligible":
            why = f"{len(tv.failing)} of {n} criteria fail: {', '.join(c.id for c in tv.failing)}"
        else:
            why = f"{len(tv.unknown)} of {n} criteria unknown: {', '.join(c.id for c in tv.unknown)}"
        return f"{trial.name}{registry}{stage}, patient {patient} as of {as_of}: {tv.verdict.upper()} ({why})"

    def criterion(self, outcome):
        crit = outcome.criterion
        text = " ".join(crit.text.split())
        return f"{crit.id} {OUTCOME_WORDS[outcome.outcome]} ({crit.kind}): {text}"

    def other_criteria(self, count):
        return f"{count} other criteria (not deciding the verdict)"

    def derivation(self, pred, args, clause):
        """A rule application: what it derived (criterion rules also show their condition)."""
        if clause.criterion:
            return f"{self.atom(pred, args)}: {clause.text.split(' <= ', 1)[-1].strip()}"
        return self.atom(pred, args)

    def fact(self, pred, args):
        return self.atom(pred, args)

    def comparison(self, lit, holds, bindings, var_kinds):
        shown = _substitute(lit, bindings, var_kinds)
        return f"{shown}  ({lit.text})" if holds else f"not {shown}  ({lit.text})"

    def comparison_in_units(self, lit, holds, bindings, var_kinds, units):
        """The comparison as a reader checks it, in the record's units and without the rule's own
        scaling or variable names: "albumin 4 g/dL > 2.5 g/dL" (units: {variable: (noun, unit)})."""
        shown = _substitute(lit, bindings, var_kinds, units)
        return shown if holds else f"not {shown}"

    def units(self, clause, bindings):
        """{variable: (noun, unit)} for the clause's variables that hold a lab value (the test named
        by a constant or a bound variable) or a measure whose predicate names its unit."""
        out = {}
        for lit in clause.body:
            if not isinstance(lit, Atom) or lit.negated or not lit.args:
                continue
            if lit.pred in LAB_VALUE:
                test_pos, value_pos = (p + 1 for p in LAB_VALUE[lit.pred])
                if len(lit.args) > value_pos and hasattr(lit.args[value_pos], "name"):
                    term = lit.args[test_pos]
                    test = getattr(term, "value", None) if not hasattr(term, "name") else bindings.get(term.name)
                    lab = self.labs.get(test) if isinstance(test, str) else None
                    if lab:
                        out.setdefault(lit.args[value_pos].name, (lab_noun(test, lab), lab["unit"]))
                continue
            last = lit.args[-1]
            for suffix, unit in UNIT_SUFFIXES.items():
                if lit.pred.endswith(suffix) and hasattr(last, "name"):
                    out.setdefault(last.name, (None, unit))
        return out

    def uln(self, pred, bindings, unit):
        """lab vs a multiple of its ULN in the record's unit: "total bilirubin 0.7 mg/dL on 2026-11-02
        < 3.0 x ULN (3.6 mg/dL)"; None for another predicate or missing bindings."""
        if pred not in ULN_RULES or not all(k in bindings for k in ("T", "K", "V", "U")):
            return None
        scale, op = ULN_RULES[pred]
        test, k, value, limit = bindings["T"], bindings["K"], bindings["V"], bindings["U"]
        lab = self.labs.get(test, {})
        unit = f" {unit}" if unit else ""
        day = f" on {show(bindings['D'], 'day')}" if isinstance(bindings.get("D"), int) else ""
        multiple = f"{k / scale:.{1 if scale == 10 else 2}f}"
        return (f"{lab_noun(test, lab)} {_number(value / 10**6)}{unit}{day} {op} {multiple} x ULN "
                f"({_number(k * limit / scale / 10**6)}{unit})")

    def chain(self, pred, levels):
        """A recursive rule's chain as one line; levels: head args from the top derivation down."""
        position, template = CHAIN_PHRASES.get(pred, (None, None))
        if position is None:
            varying = [i for i in range(1, len(levels[0])) if len({repr(a[i]) for a in levels}) > 1]
            position = varying[0] if varying else len(levels[0]) - 1
            template = None
        members = []
        for args in reversed(levels):
            shown = show(args[position], self.kinds.get(pred, {}).get(position))
            if shown not in members:
                members.append(shown)
        if template:
            return template.format(members=", ".join(members), count=len(levels))
        return f"{self.atom(pred, levels[0])}, through {', '.join(members)}"

    def witness(self, func, agg, value, keys):
        """An aggregate by its result: "longest run of consecutive vertebrae: 4"."""
        if func not in FUNCTION_NOUNS and func in self.annotated:
            return self.atom(func, tuple(keys) + (value,))
        noun = FUNCTION_NOUNS.get(func, func)
        kind = self.kinds.get(func, {}).get(len(keys))
        return f"{noun}: {show(value, kind if agg != 'len_' else None)}"

    def decided(self, pred, args):
        """A criterion rule in a condensed proof: its side only (its condition is shown below it)."""
        return self.atom(pred, args)

    def missing_read_by(self, path, absent, cites):
        text = self.missing(path, absent)
        return f"{text} (read by {', '.join(cites)})" if cites else text

    def aggregate(self, proof, counted):
        if proof.func not in FUNCTION_NOUNS and proof.func in self.annotated:
            noun = self.atom(proof.func, tuple(proof.keys) + (None,)).replace(ANY, "").strip()
        else:
            noun = FUNCTION_NOUNS.get(proof.func, proof.func)
        kind = self.kinds.get(proof.func, {}).get(len(proof.keys))
        items = ", ".join(show(v, kind if proof.clause.head.agg != "len_" else None) for v in counted) or "nothing"
        agg = proof.clause.head.agg
        if agg == "len_":
            return f"{show(proof.value)} {noun}: {items}"
        if agg in ("max_", "min_"):
            word = "largest" if agg == "max_" else "smallest"
            return f"{noun}: {show(proof.value, kind)} ({word} of {items})"
        return f"{noun} = {show(proof.value, kind)} ({agg[:-1]} of {items})"

    def negation(self, pred, pattern, candidates, complete=True, rules=1):
        looked = self.atom(pred, pattern)
        if not rules:
            return f"not found: {looked} (no rule can derive it)"
        text = f"not found: {looked}, among: {'; '.join(candidates)}" if candidates else f"not found: {looked}"
        return text if complete else text + f" (only the first {MAX_SHOWN} candidates per rule are shown)"

    def absent(self, pred, pattern, examined, gaps):
        where = "in the record" if BASE[pred].patient else f"listed in {BASE[pred].where}"
        text = f"not {where}: {self.atom(pred, pattern)}"
        if examined:
            text += f"; recorded: {'; '.join(examined)}"
        if gaps:
            text += f"; not recorded: {', '.join(gaps)}"
        return text

    def not_detailed(self, pred, pattern):
        return f"not found: {self.atom(pred, pattern)} (checked; deeper reasons not shown)"

    def rule_not_applied(self, clause):
        return f"rule does not apply: {clause.text}"

    def attempt(self, candidate, reason):
        """One candidate a rule examined and why it fell short."""
        return f"{candidate}, but {reason}" if reason else candidate

    def other_value(self, asked, given):
        return f"not found: {asked}; the rules give {' and '.join(given)}"

    def more_candidates(self, n):
        return f"... and {n} more candidate{'s' if n != 1 else ''} (--why-not shows them all)"

    def reason_exists(self, phrase):
        return phrase

    def reason_missing(self, phrase):
        return phrase[0].lower() + phrase[1:] if phrase else phrase

    def missing(self, path, absent):
        """An input an unknown criterion needs: left out, or recorded without deciding it
        (e.g. a test outside its window)."""
        return f"not recorded: {path}" if absent else f"recorded, but not enough to decide: {path}"

    def to_decide(self, need):
        """What would decide an unknown criterion (explain/decide.py Need)."""
        return f"to decide: {need_line(need.text, need.decides, need.recorded, need.together)}"

    def would_use(self, clause):
        if clause.criterion:
            trial, cid, side = clause.criterion
            return f"would decide {self.criterion_side(trial, cid, side)}: {clause.text.split(' <= ', 1)[-1].strip()}"
        return f"read by: {clause.text}"

    def rule_cite(self, clause):
        return clause.where

    def source_cite(self, source_file, path):
        if source_file is None:
            return path
        return f"{source_file}: {path}"


def lab_noun(test, lab):
    """A lab test as a sentence names it: "total bilirubin" (the reference's name, else its id)."""
    name = lab.get("name") or test
    return name[0].lower() + name[1:] if name[1:2].islower() else name


def _substitute(lit, bindings, var_kinds, units=None):
    """The comparison with its variables replaced by their shown values; with units, a variable
    holding a measure shows its noun and unit, and a constant compared with it the same unit."""
    milli = [any(isinstance(n, ast.Name) and var_kinds.get(n.id) == "milli" for n in ast.walk(side))
             for side in (lit.left, lit.right)]
    side_units = [None, None]
    if units is not None:
        for i, side in enumerate((lit.left, lit.right)):
            if isinstance(side, ast.Name) and side.id in units:
                side_units[i] = units[side.id]
    unit_of_pair = next((u for u in side_units if u), None)

    def sub(node, descale, unit=None, bare=False):
        if isinstance(node, ast.Name):
            if node.id in bindings:
                text = show(bindings[node.id], var_kinds.get(node.id))
                if unit and bare:
                    noun, symbol = unit
                    text = f"{noun + ' ' if noun else ''}{text} {symbol}"
                return ast.Name(id=text)
            return node
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return ast.Name(id=node.value)
            if descale and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                text = show(node.value, "milli")
                return ast.Name(id=f"{text} {unit[1]}" if unit and bare else text)
            if unit and bare and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                return ast.Name(id=f"{node.value} {unit[1]}")
            return node
        if isinstance(node, (ast.List, ast.Tuple)):
            return ast.Name(id="[" + ", ".join(ast.unparse(sub(e, descale)) for e in node.elts) + "]")
        if isinstance(node, ast.BinOp):
            return ast.BinOp(left=sub(node.left, descale), op=node.op, right=sub(node.right, descale))
        if isinstance(node, ast.UnaryOp):
            return ast.UnaryOp(op=node.op, operand=sub(node.operand, descale))
        return node

    # Lab values are x 1000; a constant compared with one is too, so both sides show as recorded.
    sides = []
    for i, (side, scaled) in enumerate(zip((lit.left, lit.right), milli)):
        unit = side_units[i] or (unit_of_pair if i == 1 and unit_of_pair else None)
        if i == 1 and side_units[1] is None and unit:
            unit = (None, unit[1])        # the constant side: the unit, not the noun again
        sides.append(sub(side, any(milli) and not scaled, unit, bare=isinstance(side, (ast.Name, ast.Constant))))
    return ast.unparse(ast.Compare(left=sides[0], ops=[_OPS[lit.op]()], comparators=[sides[1]]))


_OPS = {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE, "in": ast.In, "not in": ast.NotIn}


# -- what would decide an unknown criterion (reasoner/explain/decide.py) ----------------------------
# A list item wanted but not recorded reads as a noun with its constrained arguments; predicates
# without a noun here use their BASE doc.
ITEM_NOUNS = {
    "imaging": "an imaging study",
    "lab": "a lab result",
    "performance": "an ECOG/WHO performance status assessment",
    "pregnancy_test": "a pregnancy test",
    "toxicity": "a residual toxicity",
    "regimen": "a systemic regimen",
    "lesion": "a metastatic lesion",
    "other_malignancy": "another malignancy",
    "comorbidity": "a comorbidity",
}
WANTED_PHRASES = {
    "recorded": "section {0} recorded (an empty list means none)",
    "lab_uln_pair": "the upper limit of normal of lab result {0}",
    "life_expectancy_over": "life expectancy judged \"more than N months\", N {0}",
}
DATE_ARGS = ("Day", "Start")
ARG_WORDS = {"Day": "dated", "Start": "started", "Milli": "value", "Micro": "value"}
DAY_OPS = {">=": "on or after {0}", ">": "after {0}", "<=": "on or before {0}", "<": "before {0}",
           "==": "on {0}", "!=": "not on {0}"}
VALUE_OPS = {">=": "at least {0}", ">": "more than {0}", "<=": "at most {0}", "<": "less than {0}",
             "==": "{0}", "!=": "not {0}"}
FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}


def phrasebook(book):
    """One Phrasebook per rule set (its value kinds take a fixpoint over every clause)."""
    key = getattr(book, "key", book.sha256)
    if key not in _PHRASEBOOKS:
        _PHRASEBOOKS[key] = Phrasebook(book)
    return _PHRASEBOOKS[key]


_PHRASEBOOKS = {}


def has_words(pred):
    """Whether pred has its own phrase (else it reads as written, pred(args))."""
    return pred in BASE_PHRASES or pred in DERIVED_PHRASES or pred in FUNCTION_NOUNS


def bound_text(op, value, kind):
    """`X op value` said of X: 'on or after 2026-11-30', 'at most 2', 'pet-ct or fdg-pet-ct'."""
    if op == "in":
        return " or ".join(show(v, kind) for v in value)
    if op == "not in":
        return "none of " + ", ".join(show(v, kind) for v in value)
    table = DAY_OPS if kind == "day" else VALUE_OPS
    return table[op].format(show(value, kind))


def wanted(words, pred, pattern, bounds):
    """A fact that would decide a criterion: pattern holds constants (None = free), bounds
    {position: 'at most 2', ...} the constraints on free positions."""
    start = 1 if pattern and pattern[0] == PATIENT else 0
    info = BASE.get(pred)
    kinds = words.kinds.get(pred, {})
    if pred in ITEM_NOUNS and pattern[start] is None:
        parts, dated = [], []
        for pos in range(start + 1, len(pattern)):
            name = info.args[pos - 1]
            text = bounds.get(pos) or (None if pattern[pos] is None else show(pattern[pos], kinds.get(pos)))
            if text:
                (dated if name in DATE_ARGS else parts).append(f"{ARG_WORDS.get(name, name.lower())} {text}")
        text = ITEM_NOUNS[pred] + (f" with {', '.join(parts)}" if parts else "")
        return text + (("," if parts else "") + " " + ", ".join(dated) if dated else "")
    shown = []
    for pos in range(start, len(pattern)):
        kind = "tenths" if (pred, pos) in TENTHS else kinds.get(pos)
        if pattern[pos] is not None:
            shown.append(show(pattern[pos], kind))
        else:
            shown.append(bounds.get(pos) or ("(any date)" if kind == "day" else ANY))
    template = WANTED_PHRASES.get(pred) or BASE_PHRASES.get(pred) or DERIVED_PHRASES.get(pred)
    if template:
        try:   # a free value a template shows in brackets (an item id) is left out
            return template.format(*shown).replace(f" ({ANY})", "")
        except IndexError:
            pass
    return words.atom(pred, pattern)   # a trial helper: the words its rule file gives it


def fell_short(candidate, value, op, bound, kind):
    """A recorded candidate whose value misses a bound: 'pregnancy test T1: negative on 2026-11-01,
    not on or after 2026-11-30 (29 days before)'."""
    text = f"{candidate}, not {bound_text(op, bound, kind)}"
    if kind == "day" and isinstance(value, int) and isinstance(bound, int) and value != bound:
        days = abs(value - bound)
        text += f" ({days} day{'s' if days != 1 else ''} {'before' if value < bound else 'after'})"
    return text


def decides(words, trial, cid, side):
    """'I3 met', 'exclusion E2 applies'."""
    return words.criterion_side(trial, cid, side)


def no_longer(words, pred, args):
    """A recorded fact that would have to be otherwise for the rule to apply."""
    return f"not: {words.atom(pred, args)} (as recorded)"


def need_line(need, decides, recorded, together=()):
    """One way to decide an unknown criterion, as a list item under a heading that says so (the
    report's "What would decide it"); together: what that way needs besides, not recorded."""
    text = f"{need}{', together with: ' + '; '.join(together) if together else ''} -> {decides}"
    if recorded:
        text += f" (recorded, but not enough to decide: {'; '.join(recorded)})"
    return text
