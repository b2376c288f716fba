"""TAORMINA in plain Python: the benchmark's baseline and an independent check of Eligo's verdicts.

Written from the `reading` of each criterion in rules/trials/taormina.yaml (and the shared readings
in rules/lib: lesion counts, vertebral runs, lines of therapy with de-escalation, latest labs),
without calling Eligo. It reads the raw JSON record (ISO dates, lab units as given) and only the
reference vocabularies in facts/reference/ (drug classes, organ classes, vertebral order).

Open world as in Eligo: a section left out is unknown, an empty list is known none. Each criterion
gets `holds` / `lacks` (its condition derivably true / false); an inclusion passes when it holds,
an exclusion when it lacks, neither is unknown, both is a conflict.
"""

import datetime as dt
from fractions import Fraction
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PASS, FAIL, UNKNOWN, CONFLICT = "pass", "fail", "unknown", "conflict"
ORDER = ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "I10", "I11", "I12", "I13", "I14", "I15", "I16",
         "I17", "I18", "I19", "E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8"]
# Lab units the synthetic cohort uses, to each test's canonical unit (labs.yaml): exact factors.
UNITS = {("bilirubin", "mg/dL"): Fraction(1), ("bilirubin", "umol/L"): Fraction(58466, 1000000),
         ("albumin", "g/dL"): Fraction(1), ("albumin", "g/L"): Fraction(1, 10)}
LIVER_TESTS = ("bilirubin", "alt", "ast", "ggt", "alp")
SKIN_CERVIX = ("skin_basal_cell", "skin_squamous_cell", "cervix_in_situ")
SPINE_FINDINGS = ("spinal_cord_compression", "spine_instability", "neurological_deficit_from_compression",
                  "progressive_neurological_deficit")


def _reference():
    load = lambda name: yaml.safe_load((ROOT / "facts" / "reference" / name).read_text())  # noqa: E731
    drugs = load("drugs.yaml")["drugs"]
    classes = {}
    for name, entry in drugs.items():
        classes[name] = entry["class"]
        for alias in entry.get("aliases", []):
            classes[alias.lower()] = entry["class"]
    organs = load("organs.yaml")["organs"]
    return classes, organs, load("vertebrae.yaml")["order"]


DRUG_CLASS, ORGANS, LEVELS = _reference()


def day(text):
    return dt.date.fromisoformat(text)


def years_between(earlier, later):
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))


class Patient:
    """Derived views of one raw record that several criteria share."""

    def __init__(self, rec, as_of):
        self.rec, self.as_of = rec, as_of
        registration = rec.get("dates", {}).get("registration")
        # TAORMINA counts ages and years to the registration date; without one, to --as-of as a
        # lower bound (the registration is not before it): docs/readings.md "Reference dates".
        self.registration = day(registration) if registration else None
        self.bound = self.registration or as_of
        self.lesions = rec.get("metastases")            # None: not recorded
        self.regimens = rec.get("systemic_therapy")
        self.findings = rec.get("findings", {})
        self.attest = {a["criterion"]: a["answer"] for a in rec.get("attestations", [])}

    def organs(self):
        return {lesion["organ"] for lesion in self.lesions or []}

    def has_class(self, cls):
        return any(ORGANS[o][cls] for o in self.organs())

    def latest_labs(self, test):
        """(value, uln or None) of every result of `test` on its latest day, in the canonical unit."""
        labs = [lab for lab in self.rec.get("labs", []) if lab["test"] == test]
        if not labs:
            return []
        last = max(lab["date"] for lab in labs)
        out = []
        for lab in labs:
            if lab["date"] == last:
                f = UNITS.get((test, lab["unit"]), Fraction(1))
                value = Fraction(str(lab["value"])) * f
                out.append((value, Fraction(str(lab["uln"])) * f if "uln" in lab else None))
        return out

    # --- vertebrae
    def vertebral_levels(self):
        return {v for lesion in self.lesions or [] for v in lesion.get("site", {}).get("vertebrae", [])}

    def longest_run(self):
        involved, best, run = self.vertebral_levels(), 0, 0
        for level in LEVELS:
            run = run + 1 if level in involved else 0
            best = max(best, run)
        return best

    def bone_unknown(self):
        return any(lesion["organ"] == "bone" and "bone" not in lesion.get("site", {}) for lesion in self.lesions or [])

    # --- systemic therapy (lines in the metastatic setting)
    def metastatic(self):
        out = []
        for reg in self.regimens or []:
            anticancer = {d.lower() for d in reg["drugs"] if DRUG_CLASS.get(d.lower()) != "bone_modifying"}
            if reg["setting"] == "metastatic" and anticancer:
                out.append((day(reg["start"]), reg, {canonical(d) for d in anticancer}))
        return out

    def previous(self, entry, entries):
        """Metastatic regimens started last before this one (several if they share a start day)."""
        earlier = [e for e in entries if e[0] < entry[0]]
        if not earlier:
            return []
        last = max(e[0] for e in earlier)
        return [e for e in earlier if e[0] == last]

    def new_lines(self):
        entries, lines = self.metastatic(), []
        for entry in entries:
            prev = self.previous(entry, entries)
            adds = any(entry[2] - q[2] for q in prev)
            if not prev or adds:
                lines.append((entry, prev))
        return lines


def canonical(drug):
    """Drug names compared by class table key: aliases map to the same canonical spelling."""
    return CANONICAL.get(drug.lower(), drug.lower())


def _canonical_table():
    drugs = yaml.safe_load((ROOT / "facts" / "reference" / "drugs.yaml").read_text())["drugs"]
    table = {}
    for name, entry in drugs.items():
        table[name] = name
        for alias in entry.get("aliases", []):
            table[alias.lower()] = name
    return table


CANONICAL = _canonical_table()


def tox_name(name):
    return "_".join(str(name).lower().replace("-", " ").split())


def _stopped(reg):
    return reg.get("ongoing") is False or ("end" in reg and reg.get("ongoing") is not True)


def criteria(p):
    """{criterion id: (holds, lacks)} for one patient."""
    rec, les, out = p.rec, p.lesions, {}
    diag = rec.get("diagnosis", {})
    n = len(les) if les is not None else None
    # I1
    confirmed = diag.get("confirmation") in ("histology", "cytology")
    out["I1"] = (confirmed and bool(les), diag.get("confirmation") == "none" or n == 0)
    # I2
    birth = rec["patient"].get("birth_date")
    age = years_between(day(birth), p.registration) if birth and p.registration else None
    at_least = years_between(day(birth), p.bound) if birth else None
    out["I2"] = (at_least is not None and at_least >= 18, age is not None and age < 18)
    # I3
    organs = len(p.organs()) if les is not None else None
    pet = any(i["modality"] in ("pet-ct", "fdg-pet-ct") for i in rec.get("imaging", []))
    out["I3"] = (n is not None and 1 <= n <= 5 and organs <= 2 and pet,
                 n is not None and (n > 5 or n == 0 or organs > 2))
    # I4
    met = p.metastatic()
    maybe = [reg for _s, reg, _d in met if not _stopped(reg)]
    ongoing = [reg for reg in maybe if reg.get("ongoing") is True]

    def progressing(regs):
        return any(reg.get("last_response") == "pd" for reg in regs)

    def unevaluated(regs):
        return any("evaluations" in reg and reg["evaluations"] < 2 for reg in regs)

    stable = any(reg.get("evaluations", -1) >= 2 and reg.get("last_response") in ("sd", "pr", "cr") for reg in ongoing)
    # A regimen neither stated ongoing nor stopped blocks a pass but cannot fail I4 (the reading).
    out["I4"] = ((p.regimens is not None and not maybe) or (stable and not progressing(maybe) and not unevaluated(maybe)),
                 progressing(ongoing) or unevaluated(ongoing))
    # I5
    pres, controlled = diag.get("presentation"), rec.get("primary_tumour", {}).get("controlled")
    out["I5"] = (pres == "recurrent" or (pres == "de_novo" and controlled is True),
                 pres == "de_novo" and controlled is False)
    # I6
    recs = rec.get("recurrences")
    local = [r for r in recs or [] if r["type"] == "local"]
    out["I6"] = (recs is not None and all(r.get("controlled") is True for r in local),
                 any(r.get("controlled") is False for r in local))
    # I7
    grades = [(day(ps["date"]), ps["value"]) for ps in rec.get("performance_status", []) if ps["scale"] in ("ecog", "who")]
    ecog = max(v for d, v in grades if d == max(grades)[0]) if grades else None
    out["I7"] = (ecog is not None and ecog <= 2, ecog is not None and ecog > 2)
    # I8
    # A documented judgement ("more than N months", N >= 6), an estimate or an attestation;
    # two that disagree decide nothing.
    assessment = rec.get("assessment", {})
    life, over = assessment.get("life_expectancy_months"), assessment.get("life_expectancy_more_than_months")
    long = (life is not None and life > 6) or (over is not None and over >= 6) or p.attest.get("taormina/I8") == "yes"
    short = (life is not None and life <= 6) or p.attest.get("taormina/I8") == "no"
    out["I8"] = (long and not short, short and not long)
    # I9: pending, equivocal and unknown can still become known; not_determinable fails.
    rcp = rec.get("receptors", {})
    out["I9"] = (all(r in rcp and rcp[r]["status"] in ("positive", "negative", "low") for r in ("er", "pgr", "her2")),
                 any(v["status"] == "not_determinable" for v in rcp.values()))
    # I10
    def size_open(lesion):
        return lesion.get("measurable") is not False and not ("size_mm" in lesion and lesion["size_mm"] <= 50)
    out["I10"] = (les is not None and not any(size_open(x) for x in les),
                  any(x.get("measurable") is True and x.get("size_mm", 0) > 50 for x in les or []))
    # I11
    bones = [x for x in les or [] if x["organ"] == "bone"]
    femur_possible = any(x.get("site", {}).get("bone", "femur") == "femur" for x in bones)
    symptomatic_open = any(x.get("symptomatic") is not False and x.get("amenable_to_local_therapy") is not True for x in bones)
    out["I11"] = (les is not None and not femur_possible and not symptomatic_open,
                  any(x.get("site", {}).get("bone") == "femur" for x in bones)
                  or any(x.get("symptomatic") is True and "bone" in x.get("site", {})
                         and x.get("amenable_to_local_therapy") is False for x in bones))
    # I12, E6: clinician judgment
    for cid, key in (("I12", "taormina/I12"), ("E6", "taormina/E6")):
        out[cid] = (p.attest.get(key) == "yes", p.attest.get(key) == "no")
    # I13
    liver = [x for x in les or [] if x["organ"] == "liver"]
    coms = rec.get("comorbidities")
    liver_disease = any(c["condition"] == "cirrhosis" or (c["condition"] == "hepatitis" and c.get("status") != "resolved")
                        for c in coms or [])
    def below(test):
        return any(u is not None and v < 3 * u for v, u in p.latest_labs(test))
    def not_below(test):
        return any(u is not None and v >= 3 * u for v, u in p.latest_labs(test))
    albumin = p.latest_labs("albumin")
    lab_ok = all(below(t) for t in LIVER_TESTS) and any(v > Fraction(5, 2) for v, _u in albumin)
    lab_high = any(not_below(t) for t in LIVER_TESTS) or any(v <= Fraction(5, 2) for v, _u in albumin)
    hollow = any(set(x.get("adjacent_to", [])) & {"stomach", "small_bowel"} for x in liver)
    adjacency_open = any("adjacent_to" not in x for x in liver)
    out["I13"] = ((les is not None and not liver)
                  or (bool(liver) and coms is not None and not liver_disease and lab_ok and not adjacency_open and not hollow),
                  (bool(liver) and liver_disease) or (bool(liver) and lab_high) or hollow)
    # I14
    abdominal = p.has_class("abdominal")
    crcl = [v for v, _u in p.latest_labs("creatinine_clearance")]
    out["I14"] = ((les is not None and not abdominal) or (abdominal and any(v > 60 for v in crcl)),
                  abdominal and any(v <= 60 for v in crcl))
    # I15
    toxes = rec.get("toxicities")
    neuro_yes, neuro_no = p.attest.get("taormina/I15") == "yes", p.attest.get("taormina/I15") == "no"
    def accepted(t):
        return tox_name(t["name"]) == "peripheral_neuropathy" and t["grade"] == 2 and t.get("stable") is True and neuro_yes
    def fails(t):
        name, grade = tox_name(t["name"]), t["grade"]
        if name == "alopecia":
            return False
        if grade >= 3:
            return True
        if grade == 2 and name != "peripheral_neuropathy":
            return True
        return name == "peripheral_neuropathy" and grade == 2 and (t.get("stable") is False or neuro_no)
    out["I15"] = (toxes is not None and not any(tox_name(t["name"]) != "alopecia" and t["grade"] >= 2 and not accepted(t)
                                               for t in toxes),
                  any(fails(t) for t in toxes or []))
    # I16, I17
    repro = rec.get("reproductive", {})
    cbp = repro.get("childbearing_potential")
    start = rec.get("dates", {}).get("treatment_start")
    window = []
    if start:
        s = day(start)
        window = [(day(t["date"]), t["result"]) for t in repro.get("pregnancy_tests", [])
                  if s - dt.timedelta(days=14) <= day(t["date"]) <= s]
    negative_ok = any(r == "negative" and not any(r2 == "positive" and d2 >= d for d2, r2 in window) for d, r in window)
    positive_open = any(r == "positive" and not any(r2 == "negative" and d2 > d for d2, r2 in window) for d, r in window)
    out["I16"] = (cbp is False or (cbp is True and negative_ok), cbp is True and positive_open)
    contraception = repro.get("contraception")
    out["I17"] = (cbp is False or (cbp is True and contraception is True), cbp is True and contraception is False)
    # I18, E8
    mals = rec.get("other_malignancies")
    def mal_years(m, to):
        return years_between(day(m["diagnosis_date"]), to) if "diagnosis_date" in m and to else None
    def mal_open(m):
        y = mal_years(m, p.bound)
        long_ago = y is not None and y >= 5
        excepted = m["category"] in SKIN_CERVIX and m.get("radically_treated") is True
        return not long_ago and not excepted
    def mal_recent(m):
        y = mal_years(m, p.registration)
        return y is not None and y < 5 and (m["category"] not in SKIN_CERVIX or m.get("radically_treated") is False)
    out["I18"] = (mals is not None and not any(mal_open(m) for m in mals), any(mal_recent(m) for m in mals or []))
    invasive = [m for m in mals or [] if m["category"] not in ("in_situ", "cervix_in_situ")]
    out["E8"] = (any(m.get("requires_therapy") is True for m in invasive),
                 mals is not None and all(m.get("requires_therapy") is False for m in invasive))
    # I19
    signed = rec.get("consent", {}).get("signed")
    out["I19"] = (signed is True, signed is False)
    # E1
    lines = p.new_lines()
    def progressed(reg):
        return reg.get("stop_reason") == "progression" or reg.get("last_response") == "pd"
    def not_progressed(reg):
        return "stop_reason" in reg and reg["stop_reason"] != "progression" and reg.get("last_response") != "pd"
    after_progression = any(progressed(q[1]) for _e, prev in lines for q in prev)
    n_lines = len(lines) if p.regimens is not None else None
    line_change_open = any(not not_progressed(q[1]) for _e, prev in lines for q in prev)
    out["E1"] = (after_progression,
                 (n_lines is not None and n_lines <= 1) or (p.regimens is not None and not line_change_open))
    # E2
    out["E2"] = (p.has_class("cns"), les is not None and not p.has_class("cns"))
    # E3
    f = p.findings
    out["E3"] = (f.get("malignant_pleural_effusion") is True or f.get("malignant_ascites") is True,
                 f.get("malignant_pleural_effusion") is False and f.get("malignant_ascites") is False)
    # E4
    vertebral = [x for x in les or [] if x.get("site", {}).get("vertebrae")]
    cord = any(x["organ"] == "spinal_cord" for x in les or [])
    canal_high = any(x.get("spinal_canal_compromise_pct", -1) >= 25 for x in vertebral)
    canal_open = any(not (x.get("spinal_canal_compromise_pct", 100) < 25) for x in vertebral)
    run = p.longest_run()
    spine_possible = bool(vertebral) or p.bone_unknown() or cord
    finding_true = any(f.get(k) is True for k in SPINE_FINDINGS)
    findings_false = all(f.get(k) is False for k in SPINE_FINDINGS)   # needed even without a spinal lesion
    out["E4"] = (run >= 4 or cord or finding_true or canal_high,
                 findings_false and les is not None
                 and (not spine_possible or (run <= 3 and not canal_open and not p.bone_unknown() and not cord)))
    # E5
    out["E5"] = (f.get("ct_contraindicated") is True and f.get("mri_contraindicated") is True,
                 f.get("ct_contraindicated") is False or f.get("mri_contraindicated") is False)
    # E7
    out["E7"] = (repro.get("pregnant") is True or repro.get("breastfeeding") is True,
                 repro.get("pregnant") is False and repro.get("breastfeeding") is False)
    return out


def taormina(rec, as_of):
    """(verdict, {criterion id: pass/fail/unknown/conflict}) of one raw record."""
    outcomes = {}
    for cid, (holds, lacks) in criteria(Patient(rec, as_of)).items():
        if holds and lacks:
            outcomes[cid] = CONFLICT
        elif holds or lacks:
            met = holds
            outcomes[cid] = PASS if (met if cid.startswith("I") else not met) else FAIL
        else:
            outcomes[cid] = UNKNOWN
    values = set(outcomes.values())
    if CONFLICT in values:
        return CONFLICT, outcomes
    verdict = "ineligible" if FAIL in values else "indeterminate" if UNKNOWN in values else "eligible"
    return verdict, outcomes
