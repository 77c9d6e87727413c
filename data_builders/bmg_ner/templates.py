"""The offline generator: relation-aware sentence templates standing in for the LLM of Appendix B.2.

No model is needed, so the default build runs anywhere and is deterministic given the seed. To keep
the task from being trivial the generator varies

* the **wording** by relation family (treats, binds, regulates, associates, expresses, …; several
  templates each, found from the relation name, Hetionet abbreviations such as ``CtD`` included, or
  from the entity types when the name says nothing),
* the **entity order** (active and passive/tail-first templates),
* leading and trailing **clauses** (study context, hedges, follow-up findings).

A fixed part of the templates and clauses is *held out*: used only for validation and test, never for
train, so a model cannot pass the test split by memorising training wording. The answer is written in
the Figure 2 JSON form (``tokenized_text`` + ``ner`` triples), so it goes through the same sanity check
(:mod:`.sanity`) as an LLM's answer.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from modeling_kogner.tokenization_kogner import words_of

from ..kg_sources.hetionet import METAEDGE_VERBS
from .sampling import RelationPair
from .sanity import find_entity

__all__ = ["TemplateGenerator", "Template", "relation_family", "heldout_source", "TEMPLATES", "HETIONET_RELATIONS"]

# Hetionet metaedge abbreviations → relation verb: the KG reader's table (one source of truth).
HETIONET_RELATIONS = METAEDGE_VERBS

# Keyword in the (lower-cased) relation name → family. Order matters: the first hit wins.
_KEYWORDS: Tuple[Tuple[str, str], ...] = (
    ("palliat", "palliates"), ("treat", "treats"), ("indicat", "treats"), ("therap", "treats"),
    ("side effect", "causes"), ("adverse", "causes"), ("cause", "causes"), ("bind", "binds"),
    ("target", "binds"), ("upregul", "upregulates"), ("increase", "upregulates"),
    ("downregul", "downregulates"), ("decrease", "downregulates"), ("regulat", "regulates"),
    ("interact", "interacts"), ("covar", "covaries"), ("express", "expresses"),
    ("participat", "participates"), ("pathway", "participates"), ("present", "presents"),
    ("phenotyp", "presents"), ("symptom", "presents"), ("localiz", "localizes"), ("resembl", "resembles"),
    ("similar", "resembles"), ("includ", "includes"), ("member", "includes"), ("isa", "includes"),
    ("associat", "associates"), ("marker", "associates"),
)

# Type-pair fallbacks when the relation name is not informative (e.g. BMG's "Drug-Disease").
_TYPE_FAMILIES = {
    ("compound", "disease"): "treats", ("drug", "disease"): "treats", ("compound", "gene"): "binds",
    ("drug", "gene"): "binds", ("drug", "protein"): "binds", ("disease", "gene"): "associates",
    ("gene", "disease"): "associates", ("disease", "phenotype"): "presents", ("disease", "symptom"): "presents",
    ("gene", "pathway"): "participates", ("protein", "pathway"): "participates", ("gene", "phenotype"): "associates",
    ("anatomy", "gene"): "expresses", ("gene", "gene"): "interacts", ("protein", "protein"): "interacts",
}

# {h} = head entity, {t} = tail entity. The last template of every family is held out (eval only).
TEMPLATES: Dict[str, List[str]] = {
    "treats": [
        "{h} is an approved treatment for {t}.",
        "Patients with {t} were treated with {h} for twelve weeks.",
        "{h} remains a first-line therapy in the management of {t}.",
        "Clinical guidelines recommend {h} for adults diagnosed with {t}.",
        "For {t}, therapy with {h} improved overall survival in a phase III trial.",
    ],
    "palliates": [
        "{h} relieves the symptoms of {t} without altering its course.",
        "In advanced {t}, {h} is given mainly for symptom control.",
        "Palliative use of {h} reduced discomfort in patients with {t}.",
        "Symptoms of {t} were eased by {h}, although disease progression continued.",
    ],
    "causes": [
        "Treatment with {h} can cause {t} in some patients.",
        "{t} was reported as an adverse effect of {h}.",
        "Several cases of {t} have been attributed to {h} exposure.",
        "After starting {h}, the patient developed {t}.",
        "{t} emerged as a dose-limiting toxicity of {h} in the cohort.",
    ],
    "binds": [
        "{h} binds directly to {t} with nanomolar affinity.",
        "The crystal structure shows {h} occupying the active site of {t}.",
        "{t} is a molecular target of {h}.",
        "Docking studies suggested that {h} interacts with {t}.",
        "Binding of {h} to {t} was confirmed by surface plasmon resonance.",
    ],
    "upregulates": [
        "{h} increased the expression of {t}.",
        "Expression of {t} was markedly elevated in response to {h}.",
        "We observed upregulation of {t} associated with {h}.",
        "Transcript levels of {t} rose in samples exposed to {h}.",
        "{t} mRNA was induced more than twofold under {h}.",
    ],
    "downregulates": [
        "{h} reduced the expression of {t}.",
        "Expression of {t} was suppressed in the presence of {h}.",
        "We detected downregulation of {t} linked to {h}.",
        "Levels of {t} fell sharply following {h}.",
        "{t} transcripts were depleted in samples affected by {h}.",
    ],
    "regulates": [
        "{h} regulates the transcription of {t}.",
        "Knockdown of {h} altered the expression of {t}.",
        "{t} is under the transcriptional control of {h}.",
        "Perturbing {h} changed {t} activity in reporter assays.",
        "Silencing {h} led to a marked change in {t} levels.",
    ],
    "interacts": [
        "{h} physically interacts with {t}.",
        "Co-immunoprecipitation revealed a complex between {h} and {t}.",
        "{t} was identified as a binding partner of {h} in a yeast two-hybrid screen.",
        "The interaction of {h} with {t} is required for complex assembly.",
        "Proteomic profiling placed {t} and {h} in the same complex.",
    ],
    "covaries": [
        "Expression of {h} covaries with that of {t} across tissues.",
        "{h} and {t} show strongly correlated expression profiles.",
        "Across tumours, {t} levels tracked closely with {h}.",
        "A co-expression network linked {h} to {t}.",
    ],
    "expresses": [
        "{t} is highly expressed in the {h}.",
        "Immunostaining detected {t} throughout the {h}.",
        "The {h} shows abundant expression of {t}.",
        "Single-cell profiling found {t} transcripts in the {h}.",
        "Within the {h}, {t} was among the most abundant transcripts.",
    ],
    "participates": [
        "{h} participates in {t}.",
        "{h} is a known component of {t}.",
        "Loss of {h} disrupted {t} in knockout cells.",
        "Annotation places {h} within {t}.",
        "Among the genes involved in {t}, {h} is one of the best characterised.",
        "Genetic screens implicated {h} in {t}.",
    ],
    "presents": [
        "{h} commonly presents with {t}.",
        "{t} is a characteristic feature of {h}.",
        "Many patients with {h} report {t}.",
        "Clinical examination of {h} cases frequently reveals {t}.",
        "{t} was documented in most individuals affected by {h}.",
    ],
    "localizes": [
        "{h} primarily affects the {t}.",
        "Lesions of {h} are localized to the {t}.",
        "Imaging showed involvement of the {t} in {h}.",
        "The {t} is the main site of {h}.",
    ],
    "resembles": [
        "{h} is structurally similar to {t}.",
        "{h} closely resembles {t}.",
        "{t} and {h} share many characteristic features.",
        "Clinically, {h} can be mistaken for {t}.",
    ],
    "includes": [
        "{t} belongs to the class of {h}.",
        "{h} include {t} among their members.",
        "As one of the {h}, {t} shares their mechanism of action.",
        "{t} is classified among the {h}.",
    ],
    "associates": [
        "Variants in {t} are associated with {h}.",
        "{h} has been linked to mutations in {t}.",
        "Genome-wide association studies implicate {t} in {h}.",
        "Altered {t} function contributes to the pathogenesis of {h}.",
        "{t} emerged as a susceptibility locus for {h}.",
    ],
    "generic": [
        "{h} is related to {t}.",
        "A relationship between {h} and {t} has been reported.",
        "{t} has been connected with {h} in the literature.",
        "Curated databases record a link from {h} to {t}.",
    ],
}

PREFIXES_TRAIN = [
    "", "", "", "In this study, ", "Notably, ", "In a cohort of 120 patients, ", "As previously reported, ",
    "In mouse models, ", "Our results indicate that ", "Consistent with earlier work, ",
]
PREFIXES_HELDOUT = ["Taken together, these data show that ", "In an independent replication cohort, "]
SUFFIXES_TRAIN = [
    "", "", "", " (P < 0.01)", ", as shown by qPCR", " in two independent cohorts", ", although the mechanism is unclear",
]
SUFFIXES_HELDOUT = [", which was later confirmed in vivo", " according to a recent meta-analysis"]


@dataclass(frozen=True)
class Template:
    template_id: str
    text: str
    heldout: bool


def relation_family(relation: str, head_type: str = "", tail_type: str = "") -> str:
    """The template family of a relation: Hetionet abbreviation, keyword in the name, type pair, or ``generic``."""
    name = str(relation).strip()
    if name in HETIONET_RELATIONS:
        return HETIONET_RELATIONS[name]
    for abbrev, verb in HETIONET_RELATIONS.items():  # e.g. "CtD_treats" or "treats (CtD)"
        if abbrev in name.replace("(", " ").replace(")", " ").replace("_", " ").split():
            return verb
    lowered = name.lower().replace("_", " ")
    for keyword, family in _KEYWORDS:
        if keyword in lowered:
            return family
    return _TYPE_FAMILIES.get((head_type.lower(), tail_type.lower()), "generic")


def _family_templates(family: str) -> List[Template]:
    texts = TEMPLATES[family]
    return [Template(f"{family}/{i}", text, heldout=(i == len(texts) - 1)) for i, text in enumerate(texts)]


def heldout_source(source: str) -> Optional[bool]:
    """Whether an example's ``source`` (``"bmg-ner:template:<family>/<i>"``) names a held-out template;
    None for sources that are not template-generated."""
    prefix = "bmg-ner:template:"
    if not isinstance(source, str) or not source.startswith(prefix):
        return None
    family, _, index = source[len(prefix) :].rpartition("/")
    if family not in TEMPLATES or not index.isdigit():
        return None
    return int(index) == len(TEMPLATES[family]) - 1


class TemplateGenerator:
    """Writes one Figure-2-style JSON answer per :class:`RelationPair` from templates, deterministically.

    ``train`` pairs draw from the training templates and clauses only; ``validation``/``test`` pairs
    prefer the held-out ones (``heldout_prob``) and otherwise use the training ones.
    """

    name = "template"

    def __init__(self, seed: int = 0, heldout_prob: float = 0.5):
        if not 0.0 <= heldout_prob <= 1.0:
            raise ValueError(f"heldout_prob must be in [0, 1], got {heldout_prob}")
        self.seed = seed
        self.heldout_prob = heldout_prob

    def _rng(self, pair: RelationPair) -> random.Random:
        return random.Random(zlib.crc32(f"{self.seed}\x00{pair.pair_id}".encode("utf-8")))

    def choose(self, pair: RelationPair) -> Tuple[Template, str, str]:
        """The template, prefix and suffix for a pair (a pure function of seed and pair id)."""
        rng = self._rng(pair)
        family = relation_family(pair.relation, pair.head.type, pair.tail.type)
        templates = _family_templates(family)
        heldout = pair.split != "train" and rng.random() < self.heldout_prob
        pool = [t for t in templates if t.heldout == heldout] or [t for t in templates if not t.heldout]
        template = rng.choice(pool)
        prefixes = PREFIXES_HELDOUT if heldout else PREFIXES_TRAIN
        suffixes = SUFFIXES_HELDOUT if heldout else SUFFIXES_TRAIN
        return template, rng.choice(prefixes), rng.choice(suffixes)

    def sentence(self, pair: RelationPair) -> Tuple[str, Template]:
        template, prefix, suffix = self.choose(pair)
        body = template.text.format(h=pair.head.name, t=pair.tail.name)
        if suffix:
            body = body[:-1] + suffix + "."
        if prefix:
            # Lower-case the first letter only when it belongs to the template, not to an entity name.
            starts_with_entity = template.text.startswith("{")
            if not starts_with_entity and body[:1].isupper() and body[1:2].islower():
                body = body[0].lower() + body[1:]
            text = prefix + body
        else:
            text = body
        return text, template

    def answer(self, pair: RelationPair) -> Tuple[str, str]:
        """``(answer_json, source)`` for a pair; the answer holds the Figure 2 ``ner`` triples."""
        text, template = self.sentence(pair)
        words = words_of(text)
        ner, taken = [], None
        for entity in (pair.head, pair.tail):
            span = find_entity(words, entity, taken)
            if span is not None:
                ner.append([span[0], span[1], entity.type])
                taken = span
        return json.dumps({"tokenized_text": text, "ner": ner}), f"bmg-ner:template:{template.template_id}"

    def answers(self, pairs: Sequence[RelationPair]) -> List[Tuple[str, str]]:
        return [self.answer(p) for p in pairs]

