"""Seeded synthetic cohort of metastatic breast cancer records (valid per docs/patient-record.md).

The mix is meant to exercise the rules, not to be epidemiology: lesion counts from 0 to 9 (mostly
1-5), one to four organs, vertebral lesions that form consecutive runs (across C7/T1, T12/L1,
L5/S1 too) or scattered levels, femoral and symptomatic bone lesions, liver lesions next to the
stomach, metastatic regimens with de-escalations (drugs dropped: same line) and escalations (new
line) stopped for progression or other reasons, labs in mixed units at and around 3 x ULN,
pregnancy tests around the 14-day window, and sections left out at random (open world).

    python bench/cohort.py 1000 --seed 7 --out /tmp/cohort.jsonl
"""

import argparse
import datetime as dt
import json
import random
import sys

AS_OF = dt.date(2026, 11, 23)
LEVELS = ([f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)]
          + [f"S{i}" for i in range(1, 6)])
ORGANS = ["bone"] * 10 + ["liver"] * 4 + ["lung"] * 3 + ["distant_lymph_node"] * 2 + [
    "pleura", "brain", "adrenal", "abdominal_lymph_node", "skin", "soft_tissue", "peritoneum", "contralateral_breast",
    "spinal_cord", "ovary"]
BONES = ["vertebra"] * 8 + ["pelvis"] * 3 + ["rib"] * 2 + ["femur", "humerus", "sternum", "skull", "scapula"]
LESION_COUNTS = [0] + [1] * 12 + [2] * 9 + [3] * 7 + [4] * 5 + [5] * 4 + [6] * 2 + [7, 8, 9]
# Metastatic regimen sequences; each step names drugs. A step that only drops drugs continues a line.
SEQUENCES = [
    [["pertuzumab", "trastuzumab", "docetaxel"], ["pertuzumab", "trastuzumab"]],           # de-escalation
    [["letrozole", "palbociclib"]],
    [["letrozole", "palbociclib"], ["fulvestrant", "abemaciclib"]],                        # new line
    [["paclitaxel"], ["capecitabine"]],
    [["anastrozole", "ribociclib"], ["anastrozole"]],                                      # de-escalation
    [["trastuzumab deruxtecan"]],
    [["denosumab"]],                                                                       # bone-modifying only
    [["docetaxel", "trastuzumab", "pertuzumab"], ["trastuzumab", "pertuzumab"], ["trastuzumab emtansine"]],
    [["letrozole"], ["letrozole", "ribociclib"]],                                          # adds a drug: new line
]
ADJUVANT = [["epirubicin", "cyclophosphamide"], ["letrozole"], ["tamoxifen"], ["docetaxel", "cyclophosphamide"],
            ["paclitaxel", "trastuzumab"]]


def iso(day):
    return day.isoformat()


class Maker:
    """Builds one record at a time from a seeded random stream."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def chance(self, p):
        return self.r.random() < p

    def past(self, lo_days, hi_days):
        return AS_OF - dt.timedelta(days=self.r.randint(lo_days, hi_days))

    def record(self, index, seed):
        r, rec = self.r, {"schema_version": 1}
        age = r.choice([r.randint(30, 80)] * 40 + [17, 18, r.randint(81, 92)])
        birth = AS_OF.replace(year=AS_OF.year - age) - dt.timedelta(days=r.randint(0, 364))
        if r.random() < 0.02:   # the 18th birthday is today
            birth = AS_OF.replace(year=AS_OF.year - 18)
        rec["patient"] = {"id": f"SYN-{seed}-{index:06d}", "sex": "female" if self.chance(0.98) else "male",
                          "birth_date": iso(birth)}
        if self.chance(0.9):
            start = AS_OF + dt.timedelta(days=r.randint(3, 21))
            rec["dates"] = {"registration": iso(start - dt.timedelta(days=2)), "treatment_start": iso(start)}
            rec["_start"] = start
        self.diagnosis(rec)
        self.lesions(rec)
        self.therapy(rec)
        self.labs(rec)
        self.status(rec)
        self.history(rec)
        rec.pop("_start", None)
        for section in ("receptors", "primary_tumour", "recurrences", "metastases", "imaging", "systemic_therapy",
                        "labs", "performance_status", "reproductive", "other_malignancies", "comorbidities",
                        "toxicities", "findings", "assessment", "consent", "attestations"):
            if section in rec and self.chance(0.03):
                del rec[section]
        return rec

    def diagnosis(self, rec):
        r = self.r
        recurrent = self.chance(0.7)
        rec["diagnosis"] = {"confirmation": r.choice(["histology"] * 16 + ["cytology"] * 3 + ["none"]),
                            "invasive": True, "presentation": "recurrent" if recurrent else "de_novo",
                            "metastatic_diagnosis_date": iso(self.past(20, 400))}
        if self.chance(0.03):
            del rec["diagnosis"]["confirmation"]
        status = lambda: r.choice(["positive"] * 12 + ["negative"] * 8 + ["low", "equivocal", "unknown", "pending", "not_determinable"])  # noqa: E731
        rec["receptors"] = {name: {"status": status(), "source": r.choice(["primary", "metastasis"])}
                            for name in ("er", "pgr", "her2") if self.chance(0.97)}
        rec["primary_tumour"] = {"side": r.choice(["left", "right"]), "diagnosis_date": iso(self.past(400, 5000)),
                                 "controlled": self.chance(0.85), "present": not recurrent and self.chance(0.5)}
        if self.chance(0.05):
            del rec["primary_tumour"]["controlled"]
        if self.chance(0.75):
            rec["recurrences"] = []
        else:
            rec["recurrences"] = [{"id": "R1", "type": r.choice(["local", "local", "regional", "distant"]),
                                   "date": iso(self.past(30, 900))}]
            if self.chance(0.85):
                rec["recurrences"][0]["controlled"] = self.chance(0.7)

    def lesions(self, rec):
        r = self.r
        n = r.choice(LESION_COUNTS)
        organs = r.sample(sorted(set(ORGANS)), r.choice([1, 1, 1, 2, 2, 3, 4]))
        organs = [o if self.chance(0.6) else r.choice(ORGANS) for o in organs]
        lesions, run_start = [], r.randint(0, len(LEVELS) - 6)
        for i in range(n):
            organ = organs[i % len(organs)] if i < len(organs) else r.choice(organs)
            lesion = {"id": f"M{i + 1}", "organ": organ}
            if self.chance(0.93):
                lesion["size_mm"] = r.choice([r.randint(4, 45)] * 20 + [50, 51, r.randint(52, 90)])
            if self.chance(0.9):
                lesion["measurable"] = self.chance(0.6)
            lesion["detected"] = iso(self.past(10, 120))
            if self.chance(0.85):
                lesion["symptomatic"] = self.chance(0.2)
            if self.chance(0.85):
                lesion["amenable_to_local_therapy"] = self.chance(0.85)
            if organ == "bone" and self.chance(0.95):
                bone = r.choice(BONES)
                site = {"bone": bone}
                if bone == "vertebra":
                    if self.chance(0.6):       # consecutive with the previous vertebral lesion
                        span = r.choice([1, 1, 2, 3])
                        site["vertebrae"] = LEVELS[run_start:run_start + span]
                        run_start = min(run_start + span, len(LEVELS) - 4)
                    else:
                        start = r.randint(0, len(LEVELS) - 3)
                        site["vertebrae"] = LEVELS[start:start + r.choice([1, 1, 2])]
                    if self.chance(0.75):
                        lesion["spinal_canal_compromise_pct"] = r.choice([0] * 6 + [5, 10, 20, 24, 25, 40])
                lesion["site"] = site
            if organ == "liver" and self.chance(0.85):
                lesion["adjacent_to"] = r.choice([[]] * 8 + [["stomach"], ["small_bowel"], ["large_bowel"]])
            lesions.append(lesion)
        rec["metastases"] = lesions
        modality = r.choice(["fdg-pet-ct"] * 10 + ["pet-ct"] * 2 + ["ct"] * 3 + ["mri"])
        rec["imaging"] = [{"id": "IMG1", "modality": modality, "date": iso(self.past(5, 60)), "purpose": "staging"}]

    def therapy(self, rec):
        r = self.r
        regimens = []
        for j, drugs in enumerate(r.sample(ADJUVANT, r.choice([0, 1, 1, 2]))):
            start = self.past(2000, 4000) + dt.timedelta(days=200 * j)
            regimens.append({"id": f"ADJ{j + 1}", "drugs": drugs, "setting": "adjuvant", "start": iso(start),
                             "end": iso(start + dt.timedelta(days=120)), "ongoing": False, "stop_reason": "completed"})
        if self.chance(0.55):
            sequence = r.choice(SEQUENCES)
            day = self.past(200, 700)
            for k, drugs in enumerate(sequence):
                last = k == len(sequence) - 1
                reg = {"id": f"MET{k + 1}", "drugs": drugs, "setting": "metastatic", "start": iso(day)}
                if last and self.chance(0.7):
                    if self.chance(0.85):
                        reg["ongoing"] = True
                    if self.chance(0.9):
                        reg["evaluations"] = r.choice([0, 1, 2, 3, 4, 6])
                    if self.chance(0.9):
                        reg["last_response"] = r.choice(["sd", "sd", "pr", "cr", "pd"])
                else:
                    end = min(day + dt.timedelta(days=r.randint(40, 150)), AS_OF - dt.timedelta(days=1))
                    reg["end"] = iso(end)
                    if self.chance(0.8):
                        reg["ongoing"] = False
                    if self.chance(0.85):
                        reg["stop_reason"] = r.choice(["progression", "progression", "toxicity", "completed", "other"])
                    if self.chance(0.6):
                        reg["last_response"] = r.choice(["sd", "pr", "pd", "pd"])
                regimens.append(reg)
                day = min(day + dt.timedelta(days=r.randint(60, 200)), AS_OF - dt.timedelta(days=1))
        rec["systemic_therapy"] = regimens

    def labs(self, rec):
        r = self.r
        day = iso(self.past(1, 20))
        labs = []
        for test, uln in (("alt", 45), ("ast", 35), ("ggt", 60), ("alp", 105)):
            if self.chance(0.95):
                value = r.choice([r.randint(8, uln)] * 30 + [3 * uln, 3 * uln - 1, r.randint(3 * uln + 1, 6 * uln)])
                lab = {"test": test, "value": value, "unit": "U/L", "date": day}
                if self.chance(0.95):
                    lab["uln"] = uln
                labs.append(lab)
        if self.chance(0.95):
            if self.chance(0.5):
                labs.append({"test": "bilirubin", "value": r.choice([0.5, 0.8, 1.1, 3.6, 4.2]), "unit": "mg/dL",
                             "uln": 1.2, "date": day})
            else:
                labs.append({"test": "bilirubin", "value": r.choice([8, 12, 19, 60, 63, 75]), "unit": "umol/L",
                             "uln": 21, "date": day})
        if self.chance(0.9):
            if self.chance(0.5):
                labs.append({"test": "albumin", "value": r.choice([2.4, 2.5, 2.6, 3.5, 4.1]), "unit": "g/dL", "date": day})
            else:
                labs.append({"test": "albumin", "value": r.choice([24, 25, 26, 38, 44]), "unit": "g/L", "date": day})
        if self.chance(0.9):
            labs.append({"test": "creatinine_clearance", "value": r.choice([45, 60, 61, 75, 95, 110]),
                         "unit": "mL/min", "date": day})
        if self.chance(0.2) and labs:   # an older result of the same test: the latest one counts
            old = dict(r.choice(labs))
            old["date"] = iso(self.past(60, 200))
            old["value"] = round(old["value"] * 1.5, 3)   # differs, and stays within the lab bounds
            labs.append(old)
        rec["labs"] = labs

    def status(self, rec):
        r = self.r
        ps = [{"scale": r.choice(["ecog"] * 5 + ["who"]), "value": r.choice([0, 0, 0, 1, 1, 1, 1, 2, 2, 3]),
               "date": iso(self.past(1, 30))}]
        if self.chance(0.15):
            ps.append({"scale": "ecog", "value": r.choice([0, 1, 3]), "date": ps[0]["date"]})   # same day: worse counts
        if self.chance(0.05):
            ps = [{"scale": "karnofsky", "value": 80, "date": iso(self.past(1, 30))}]
        rec["performance_status"] = ps
        cbp = self.chance(0.35)
        repro = {"childbearing_potential": cbp, "pregnant": self.chance(0.01), "breastfeeding": self.chance(0.01)}
        if cbp:
            if self.chance(0.85):
                repro["contraception"] = self.chance(0.9)
            start = rec.get("_start", AS_OF + dt.timedelta(days=7))
            tests = []
            for _ in range(r.choice([0, 1, 1, 1, 2])):
                offset = r.choice([-16, -15, -14, -13, -7, -3, 0])
                day = min(start + dt.timedelta(days=offset), AS_OF)
                tests.append({"date": iso(day), "result": "negative" if self.chance(0.9) else "positive"})
            repro["pregnancy_tests"] = tests
        rec["reproductive"] = repro
        keys = ["malignant_pleural_effusion", "malignant_ascites", "spinal_cord_compression", "spine_instability",
                "neurological_deficit_from_compression", "progressive_neurological_deficit", "ct_contraindicated",
                "mri_contraindicated"]
        rec["findings"] = {k: self.chance(0.01) for k in keys if self.chance(0.97)}
        rec["assessment"] = {"life_expectancy_months": r.choice([3, 6, 7] + [12, 24, 36, 60] * 4)}
        rec["consent"] = {"signed": self.chance(0.95), "date": iso(self.past(1, 10))}
        atts = []
        for crit, yes in (("taormina/I12", 0.9), ("taormina/E6", 0.05)):
            if self.chance(0.85):
                atts.append({"criterion": crit, "answer": "yes" if self.chance(yes) else "no", "by": "Dr Synth",
                             "date": iso(self.past(1, 10))})
        rec["attestations"] = atts

    def history(self, rec):
        r = self.r
        mals = []
        if self.chance(0.15):
            mal = {"id": "OM1", "category": r.choice(["invasive", "skin_basal_cell", "skin_squamous_cell",
                                                     "cervix_in_situ", "in_situ", "thyroid_papillary_early"])}
            if self.chance(0.9):
                years = r.choice([1, 3, 4, 5, 6, 12])
                mal["diagnosis_date"] = iso(AS_OF.replace(year=AS_OF.year - years) + dt.timedelta(days=r.choice([-1, 0, 1])))
            if self.chance(0.8):
                mal["radically_treated"] = self.chance(0.8)
            if self.chance(0.8):
                mal["requires_therapy"] = self.chance(0.15)
            mals.append(mal)
        rec["other_malignancies"] = mals
        comorbidities = []
        for condition in r.sample(["hypertension", "diabetes", "cirrhosis", "hepatitis", "heart_failure"], r.choice([0, 0, 1, 2])):
            entry = {"condition": condition}
            if self.chance(0.8):
                entry["status"] = r.choice(["active", "controlled", "resolved"])
            comorbidities.append(entry)
        rec["comorbidities"] = comorbidities
        toxicities = []
        for name in r.sample(["alopecia", "peripheral neuropathy", "fatigue", "Peripheral-Neuropathy"], r.choice([0, 0, 1, 2])):
            tox = {"name": name, "grade": r.choice([0, 1, 1, 1, 1, 2, 2, 3])}
            if self.chance(0.8):
                tox["stable"] = self.chance(0.8)
            toxicities.append(tox)
        if any(t["name"].lower().startswith("peripheral") and t["grade"] == 2 for t in toxicities) and self.chance(0.7):
            rec.setdefault("attestations", []).append(
                {"criterion": "taormina/I15", "answer": "yes" if self.chance(0.7) else "no", "by": "Dr Synth",
                 "date": iso(self.past(1, 10))})
        rec["toxicities"] = toxicities


def generate(n, seed=0):
    """n records (dicts, JSON-ready), the same for the same seed."""
    maker = Maker(seed)
    for i in range(n):
        yield maker.record(i, seed)


def write_jsonl(path, n, seed=0):
    with open(path, "w", encoding="utf-8") as handle:
        for rec in generate(n, seed):
            handle.write(json.dumps(rec, separators=(",", ":")) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="-", help="JSONL file (default: stdout)")
    args = parser.parse_args(argv)
    if args.out == "-":
        for rec in generate(args.n, args.seed):
            sys.stdout.write(json.dumps(rec, separators=(",", ":")) + "\n")
    else:
        write_jsonl(args.out, args.n, args.seed)


if __name__ == "__main__":
    main()
