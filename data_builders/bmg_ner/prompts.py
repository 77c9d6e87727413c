"""Appendix B.2 / Figure 2: the system prompt and the user line that ask a chat LLM for one annotated sentence.

The system prompt follows Figure 2 step by step (the paper's list skips a step "2"; the steps are
renumbered here) and asks for the JSON structure ``{"tokenized_text": ..., "ner": [[start, end,
type], ...]}``. The user line is ``{Entity1 (Type1)}-----{Entity2 (Type2)}`` built from the *cleaned*
names (stray brackets, quotes, braces and control characters removed, whitespace collapsed) followed
by the relation type, as B.2 describes ("formatting entities after cleaning extraneous characters and
appending their corresponding relationship types").
"""

from __future__ import annotations

import re
from typing import Dict, List

from .sampling import RelationPair

__all__ = ["SYSTEM_PROMPT", "build_messages", "clean_entity_text", "clean_relation", "user_prompt"]

SYSTEM_PROMPT = """You are an expert with comprehensive biomedical knowledge. Your task is to annotate a named entity recognition dataset by identifying sentences and labeling entities.

Steps
1. Use the user-provided entities (separated by '-----') to generate a complete and logically correct sentence. The type of each entity is provided in the parentheses () after its name, and the relation between the two entities is given after 'Relation:'. Use each entity name exactly as written.
2. Identify Named Entities: Examine each token and identify which ones are named entities.
3. Classify Entities: Assign the appropriate category to each discovered entity, e.g., "DNA", "protein", etc. provided by the user input.
4. Annotate with Indices and Labels: Record the start and end positions of each entity in the tokenized list and label them according to their type.
5. Structure Output: Use the predetermined JSON structure to compile your annotation results.

Produce your annotations in the JSON format: {"tokenized_text": "Your sentence here", "ner": [[start_index, end_index, "entity_type"], ... // more entities if present]}

Notes
- If a token has multiple meanings, default to the most common scientific understanding.
- Don't return any confirmation or issue you encountered.
- Please strictly adhere to the provided format, do not output anything else; Please always use English!"""

# Characters that only confuse the prompt format: brackets/braces (the format uses "(Type)" and
# "{...}"), quotes, backticks, the separator's dashes at the ends, and control characters.
_STRAY = re.compile(r"[\"'`{}\[\]<>\\]|[\x00-\x1f\x7f]")
_EDGE = re.compile(r"^[\s\-_|;,.:]+|[\s\-_|;,:]+$")


def clean_entity_text(text: str) -> str:
    """Remove stray characters from an entity name for the user line (the KG name itself is kept for matching)."""
    text = _STRAY.sub(" ", str(text))
    text = text.replace("-----", " ")
    text = re.sub(r"\(\s*\)", " ", text)
    return _EDGE.sub("", " ".join(text.split()))


def clean_relation(relation: str) -> str:
    """``"Compound - treats - Disease"`` / ``"treats_CtD"`` → a readable relation phrase."""
    text = re.sub(r"[_>]+", " ", str(relation))
    return " ".join(_STRAY.sub(" ", text).split())


def user_prompt(pair: RelationPair) -> str:
    """The Figure 2 user line ``{Entity1 (Type1)}-----{Entity2 (Type2)}`` plus the relation type."""
    head = f"{clean_entity_text(pair.head.name)} ({pair.head.type.replace('_', ' ')})"
    tail = f"{clean_entity_text(pair.tail.name)} ({pair.tail.type.replace('_', ' ')})"
    return f"{head}-----{tail}\nRelation: {clean_relation(pair.relation)}"


def build_messages(pair: RelationPair) -> List[Dict[str, str]]:
    """OpenAI-style chat messages for one pair."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user_prompt(pair)}]
