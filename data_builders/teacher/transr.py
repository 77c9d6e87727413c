"""Z'': TransR logical embeddings of the KG entities (paper eq. 5; Appendix A uses this block alone).

TransR (Lin et al. 2015) scores ``(h, r, t)`` by ``-‖M_r h + r − M_r t‖₂`` with an entity space of width
``d''`` (default 58, Table 3's "KG Hidden Size"), a relation space of width ``k`` and a projection
``M_r ∈ R^{d×k}`` per relation; the norms of ``h, t, r, M_r h, M_r t`` are kept ≤ 1. It is trained the way
its authors train it, from PyKEEN's parts:

1. the triples are split into train / validation / test (validation and test triples keep only entities
   seen in training);
2. **TransE warm start**: PyKEEN's :class:`~pykeen.models.TransE` is trained first; its entity and relation
   vectors initialise TransR, with every ``M_r = I`` (so TransR starts exactly at the TransE solution);
3. both phases use PyKEEN's :class:`~pykeen.sampling.BernoulliNegativeSampler` (the head of a 1-to-N
   relation is replaced more often than its tail, Wang et al. 2014) with several negatives per positive,
   and one of PyKEEN's sLCWA losses (``margin`` ranking, ``softplus`` or self-adversarial ``nssa``);
4. filtered MRR on a validation sample is computed every ``eval_every`` epochs; training stops after
   ``patience`` evaluations without improvement and the best validation state is kept;
5. the test sample is ranked once, by TransR and by the popularity baselines of :mod:`.ranking`, with
   per-relation MRR / Hits@10 and bootstrap CIs.

The epoch loop is ours (PyKEEN's ``SLCWATrainingLoop`` gathers one ``d×k`` matrix per triple, 1–2 s per
batch on 2 CPU cores): :class:`GroupedTransRScorer` applies each relation's ``M_r`` once per batch through
PyKEEN's own :class:`~pykeen.nn.modules.TransRInteraction` (scores equal ``model.score_hrt``, tested).
"""

from __future__ import annotations

import copy
import functools
import logging
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from ..progress import progress

from .ranking import _known_answers, compare_rankings, degree_scorers, rank_triples, realistic_ranks, summarise_ranks

logger = logging.getLogger(__name__)

__all__ = ["TransRConfig", "GroupedTransRScorer", "EarlyStopping", "bernoulli_sampler", "split_triples", "train_transr",
           "realistic_ranks"]

LOSSES = ("margin", "softplus", "nssa")
KGE_MODELS = ("transr", "transe", "rotate", "complex", "distmult")  # pykeen.models names; complex-valued ones use d''/2


@dataclass
class TransRConfig:
    kge_model: str = "transr"  # the paper's model; others (PyKEEN's classes, same loop and evaluation) for comparison
    embedding_dim: int = 58  # d'' (Table 3: KG Hidden Size)
    relation_dim: int = 58  # k; the TransE warm start copies relation vectors only when k == d''
    scoring_fct_norm: int = 2  # p of the score and of the norm constraints (2: Lin et al.)
    loss: str = "margin"  # margin | softplus | nssa (self-adversarial); chosen on validation (bench/teacher.py --losses)
    margin: float = 1.0  # margin ranking: γ of [γ + s⁻ − s⁺]₊; nssa: γ of −log σ(γ + s)
    adversarial_temperature: float = 1.0  # nssa only
    num_negs_per_pos: int = 4
    transe_epochs: int = 10  # 0 = no warm start (random init, M_r = I)
    epochs: int = 10  # TransR epochs at most (early stopping on validation MRR)
    batch_size: int = 4096
    lr: float = 0.001  # Adam on the d×k projections: larger steps undo the warm start within an epoch
    transe_lr: float = 0.01
    eval_every: int = 2
    patience: int = 2  # evaluations without a better validation MRR before stopping
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    max_valid_triples: int = 300
    max_eval_triples: int = 1000  # test triples ranked (each twice: head and tail)
    eval_batch_size: int = 256
    num_bootstrap: int = 1000

    def __post_init__(self):
        if self.kge_model not in KGE_MODELS:
            raise ValueError(f"kge_model {self.kge_model!r} is unknown; choose from {KGE_MODELS}")
        if self.loss not in LOSSES:
            raise ValueError(f"TransR loss {self.loss!r} is unknown; choose from {LOSSES}")
        if self.num_negs_per_pos < 1 or self.eval_every < 1 or self.patience < 1:
            raise ValueError("num_negs_per_pos, eval_every and patience must be >= 1")


def split_triples(triples: np.ndarray, valid_fraction: float, test_fraction: float, seed: int):
    """Random train / validation / test split of unique triples ``[n, 3]``.

    A validation or test triple whose head or tail occurs in no training triple cannot be ranked by an
    embedding model (its row was never trained); such triples are moved to training.
    """
    rng = np.random.default_rng(seed)
    triples = triples[rng.permutation(len(triples))]
    if len(triples) < 20:
        return triples, triples[:0], triples[:0]
    n_test, n_valid = int(len(triples) * test_fraction), int(len(triples) * valid_fraction)
    test, valid, train = triples[:n_test], triples[n_test:n_test + n_valid], triples[n_test + n_valid:]
    seen = np.zeros(int(triples[:, [0, 2]].max()) + 1, dtype=bool)
    seen[train[:, 0]] = seen[train[:, 2]] = True
    keep_t = seen[test[:, 0]] & seen[test[:, 2]]
    keep_v = seen[valid[:, 0]] & seen[valid[:, 2]]
    train = np.concatenate([train, test[~keep_t], valid[~keep_v]])
    return train, valid[keep_v], test[keep_t]


def make_loss(cfg: TransRConfig):
    """PyKEEN's loss object for ``cfg.loss``."""
    from pykeen.losses import MarginRankingLoss, NSSALoss, SoftplusLoss

    if cfg.loss == "margin":
        return MarginRankingLoss(margin=cfg.margin)
    if cfg.loss == "softplus":
        return SoftplusLoss()
    return NSSALoss(margin=cfg.margin, adversarial_temperature=cfg.adversarial_temperature)


class GroupedTransRScorer:
    """Relation-grouped scoring for a :class:`pykeen.models.TransR`.

    PyKEEN gathers a ``d×k`` projection matrix per triple (``[B, d, k]`` per batch), which is memory-bound
    and made one epoch over 24k triples take ~15 s on this 2-core machine. Triples are few relation types
    apart, so here each relation's ``M_r`` is applied once to all its triples of the batch (one matmul per
    relation type) through PyKEEN's own :class:`~pykeen.nn.modules.TransRInteraction` — same parameters,
    constraints and score ``-‖clamp(h M_r) + r − clamp(t M_r)‖_p`` (checked against ``model.score_hrt`` in
    the tests).
    """

    def __init__(self, model):
        self.model = model
        self.entities = model.entity_representations[0]
        self.relations, self.projections = model.relation_representations[:2]
        self.interaction = model.interaction

    def _relation(self, j: torch.Tensor):
        idx = j.view(1)
        return self.relations(indices=idx), self.projections(indices=idx)  # [1, k], [1, d, k]

    def score_hrt(self, hrt: torch.Tensor) -> torch.Tensor:
        """Scores of triples ``hrt`` [B, 3] → [B] (order kept)."""
        order = torch.argsort(hrt[:, 1], stable=True)
        sorted_hrt = hrt[order]
        rels, counts = torch.unique_consecutive(sorted_hrt[:, 1], return_counts=True)
        h = self.entities(indices=sorted_hrt[:, 0])
        t = self.entities(indices=sorted_hrt[:, 2])
        parts, start = [], 0
        for j, n in zip(rels, counts.tolist()):
            r, m_r = self._relation(j)
            parts.append(self.interaction(h[start:start + n], (r, m_r), t[start:start + n]))
            start += n
        scores = torch.cat(parts)
        return torch.empty_like(scores).index_copy_(0, order, scores)

    def _score_all(self, fixed: torch.Tensor, rel: torch.Tensor, predict_tail: bool) -> torch.Tensor:
        everyone = self.entities(indices=None)  # [N, d]
        p = self.interaction.p
        maxnorm = self.interaction.max_projection_norm
        from pykeen.utils import clamp_norm  # here, not at import: reading a teacher needs no PyKEEN

        out = torch.empty(len(fixed), everyone.shape[0], device=everyone.device)
        for j in torch.unique(rel):
            rows = torch.nonzero(rel == j).view(-1)
            r, m_r = self._relation(j)
            anchor = clamp_norm(self.entities(indices=fixed[rows]) @ m_r[0], p=p, dim=-1, maxnorm=maxnorm)
            others = clamp_norm(everyone @ m_r[0], p=p, dim=-1, maxnorm=maxnorm)
            # ‖h + r − t‖: tails ranked by distance of t to (h + r), heads by distance of (h + r) to t
            query = anchor + r if predict_tail else anchor
            keys = others if predict_tail else others + r
            out[rows] = -torch.cdist(query, keys, p=float(p))
        return out

    def score_t(self, hr: torch.Tensor) -> torch.Tensor:
        """Scores of every entity as tail of ``(h, r)`` [B, 2] → [B, N]."""
        return self._score_all(hr[:, 0], hr[:, 1], predict_tail=True)

    def score_h(self, rt: torch.Tensor) -> torch.Tensor:
        """Scores of every entity as head of ``(r, t)`` [B, 2] → [B, N]."""
        return self._score_all(rt[:, 1], rt[:, 0], predict_tail=False)


class EarlyStopping:
    """Keeps the best validation state; ``stop`` once ``patience`` evaluations in a row did not improve it."""

    def __init__(self, patience: int):
        self.patience, self.best, self.best_epoch, self.state, self.bad = patience, float("-inf"), None, None, 0

    def update(self, epoch: int, value: float, model) -> bool:
        """Record ``value`` (higher = better) of ``model`` after ``epoch``; True when training should stop."""
        if value > self.best:
            self.best, self.best_epoch, self.state, self.bad = value, epoch, copy.deepcopy(model.state_dict()), 0
        else:
            self.bad += 1
        return self.bad >= self.patience

    def restore(self, model) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


def bernoulli_sampler(train: torch.Tensor, num_entities: int, num_relations: int, num_negs_per_pos: int):
    """PyKEEN's :class:`~pykeen.sampling.BernoulliNegativeSampler` over the training triples ``[n, 3]``:
    relation ``r``'s head is corrupted with probability ``tph / (tph + hpt)``."""
    from pykeen.sampling import BernoulliNegativeSampler

    return BernoulliNegativeSampler(mapped_triples=train, num_entities=num_entities, num_relations=num_relations,
                                    num_negs_per_pos=num_negs_per_pos)


def _fit(name: str, model, score_hrt: Callable, rank: Callable, train: torch.Tensor, sampler, loss, lr: float,
         epochs: int, cfg: TransRConfig, show_progress: bool) -> Dict:
    """sLCWA epochs with validation every ``cfg.eval_every`` epochs; the best validation state is restored.

    ``rank()`` returns the validation ranks ``[n, 2]`` of the current model (empty: no early stopping).
    """
    optimizer = torch.optim.Adam(model.get_grad_params(), lr=lr)
    batch_size = min(cfg.batch_size, max(1, len(train)))
    history: List[Dict] = []
    stopper = EarlyStopping(cfg.patience)
    for epoch in progress(range(1, epochs + 1), desc=name, unit="epoch", disable=not show_progress):
        model.train()
        values = []
        for batch in torch.split(train[torch.randperm(len(train))], batch_size):
            neg = sampler.corrupt_batch(batch)  # [B, k, 3]
            scores = score_hrt(torch.cat([batch, neg.view(-1, 3)]))
            value = loss.process_slcwa_scores(scores[: len(batch)].view(-1, 1), scores[len(batch):].view(len(batch), -1))
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            model.post_parameter_update()
            values.append(value.item())
        entry = {"epoch": epoch, "loss": float(np.mean(values)) if values else 0.0}
        stop = False
        if epoch % cfg.eval_every == 0 or epoch == epochs:
            model.eval()
            with torch.no_grad():
                ranks = rank()
            if ranks.size:
                entry["valid_mrr"] = summarise_ranks(ranks)["mrr"]
                stop = stopper.update(epoch, entry["valid_mrr"], model)
        history.append(entry)
        logger.info("%s epoch %d: %s", name, epoch, entry)
        if stop:
            break
    stopper.restore(model)
    return {"history": history, "best_epoch": stopper.best_epoch,
            "best_valid_mrr": stopper.best if stopper.best_epoch is not None else None}


def _initialise(transr, transe, cfg: TransRConfig) -> None:
    """Every ``M_r = I`` (Lin et al.); with a TransE warm start its entity vectors (and, when k == d, its
    relation vectors) are copied, so TransR starts at the TransE solution."""
    with torch.no_grad():
        if transe is not None:
            transr.entity_representations[0]._embeddings.weight.copy_(transe.entity_representations[0]._embeddings.weight)
            if cfg.relation_dim == cfg.embedding_dim:
                transr.relation_representations[0]._embeddings.weight.copy_(transe.relation_representations[0]._embeddings.weight)
        eye = torch.eye(cfg.embedding_dim, cfg.relation_dim).reshape(1, -1)
        transr.relation_representations[1]._embeddings.weight.copy_(eye.expand_as(transr.relation_representations[1]._embeddings.weight))


def train_transr(
    heads: np.ndarray,
    relations: np.ndarray,
    tails: np.ndarray,
    num_entities: int,
    num_relations: int,
    config: TransRConfig | None = None,
    seed: int = 42,
    device: str | None = None,
    show_progress: bool = True,
    relation_names: Optional[List[str]] = None,
) -> Tuple[np.ndarray, Dict]:
    """Train TransR (TransE warm start, Bernoulli negatives, early stopping) → ``(Z'' [num_entities, d''], metrics)``.

    ``metrics`` holds the split sizes, the validation history of both phases, and the test ranking of
    TransR, its TransE warm start and the two popularity baselines (overall and per relation, with
    bootstrap CIs). Rows of entities that occur in no training triple are zero (counted in ``metrics``).
    """
    from pykeen.models import TransE, TransR
    from pykeen.utils import clamp_norm
    from pykeen.triples import CoreTriplesFactory

    cfg = config or TransRConfig()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    triples = np.unique(np.stack([heads, relations, tails], axis=1).astype(np.int64), axis=0)
    train, valid, test = split_triples(triples, cfg.valid_fraction, cfg.test_fraction, seed)
    valid_sample, test_sample = valid[:cfg.max_valid_triples], test[:cfg.max_eval_triples]
    known = _known_answers(triples)

    torch.manual_seed(seed)
    train_t = torch.as_tensor(train, device=device)
    factory = CoreTriplesFactory.create(mapped_triples=torch.as_tensor(train), num_entities=num_entities,
                                        num_relations=num_relations)
    sampler = bernoulli_sampler(train_t, num_entities, num_relations, cfg.num_negs_per_pos)
    loss = make_loss(cfg)

    def sliced(score):  # PyKEEN's score_t/score_h materialise [B, N, d]: score 2,048 candidates at a time
        return lambda batch: score(batch, slice_size=2048)

    def ranker(score_t, score_h, sample):
        return lambda: rank_triples(lambda hr: score_t(hr.to(device)), lambda rt: score_h(rt.to(device)), sample,
                                    triples, num_entities, cfg.eval_batch_size, known=known)

    t0 = time.time()
    transe_fit: Dict = {"history": [], "best_epoch": None, "best_valid_mrr": None}
    transe = None
    if cfg.transe_epochs > 0 and cfg.kge_model == "transr":
        # ‖r‖ ≤ 1 as in TransR, so the constraint does not move the warm start when TransR takes over
        transe = TransE(triples_factory=factory, embedding_dim=cfg.embedding_dim, scoring_fct_norm=cfg.scoring_fct_norm,
                        relation_constrainer=functools.partial(clamp_norm, maxnorm=1.0, p=cfg.scoring_fct_norm, dim=-1),
                        loss=loss, random_seed=seed).to(device)
        transe_fit = _fit("TransE warm start", transe, lambda b: transe.score_hrt(b).view(-1),
                          ranker(sliced(transe.score_t), sliced(transe.score_h), valid_sample), train_t, sampler, loss,
                          cfg.transe_lr, cfg.transe_epochs, cfg, show_progress)
    transe_seconds = time.time() - t0
    if cfg.kge_model == "transr":
        model = TransR(triples_factory=factory, embedding_dim=cfg.embedding_dim, relation_dim=cfg.relation_dim,
                       scoring_fct_norm=cfg.scoring_fct_norm, loss=loss, random_seed=seed).to(device)
        _initialise(model, transe, cfg)
        scorer = GroupedTransRScorer(model)
        score_hrt, score_t, score_h = scorer.score_hrt, scorer.score_t, scorer.score_h
    else:
        from pykeen.models import model_resolver

        complex_valued = cfg.kge_model in ("rotate", "complex")
        model = model_resolver.make(cfg.kge_model, triples_factory=factory, loss=loss, random_seed=seed,
                                    embedding_dim=cfg.embedding_dim // 2 if complex_valued else cfg.embedding_dim).to(device)
        score_hrt, score_t, score_h = (lambda b: model.score_hrt(b).view(-1)), sliced(model.score_t), sliced(model.score_h)
    fit = _fit(f"{cfg.kge_model} (Z'')", model, score_hrt, ranker(score_t, score_h, valid_sample), train_t, sampler,
               loss, cfg.lr, cfg.epochs, cfg, show_progress)
    train_seconds = time.time() - t0

    t1 = time.time()
    model.eval()
    with torch.no_grad():
        ranks = {"transr": ranker(score_t, score_h, test_sample)()}  # key "transr": the Z'' model, whichever it is
        if transe is not None:
            transe.eval()
            ranks["transe_warm_start"] = ranker(sliced(transe.score_t), sliced(transe.score_h), test_sample)()
        ranks["degree"] = ranker(*degree_scorers(train, num_entities, num_relations, False), test_sample)()
        ranks["relation_degree"] = ranker(*degree_scorers(train, num_entities, num_relations, True), test_sample)()
        z = model.entity_representations[0](indices=None).detach()
        z = (torch.view_as_real(z).flatten(1) if z.is_complex() else z).float().cpu().numpy()
    test_report = compare_rankings(ranks, test_sample[:, 1], relation_names, reference="transr",
                                   num_bootstrap=cfg.num_bootstrap, seed=seed)
    seen = np.zeros(num_entities, dtype=bool)
    seen[train[:, 0]] = seen[train[:, 2]] = True
    z[~seen] = 0.0
    overall = test_report["overall"]
    metrics = {
        "task": "link prediction (filtered realistic ranks, both sides, against all entities)",
        "model": ("pykeen.models.TransR, TransE warm start (M_r = I)" if cfg.kge_model == "transr" else
                  f"pykeen model {cfg.kge_model!r}") + ", Bernoulli negatives, early stopping on validation MRR",
        "kge_model": cfg.kge_model,
        "triples": {"train": int(len(train)), "valid": int(len(valid)), "test": int(len(test)),
                    "valid_ranked": int(len(valid_sample)), "test_ranked": int(len(test_sample))},
        "transr": overall["transr"],
        "degree_baseline": overall["degree"],
        "relation_degree_baseline": overall["relation_degree"],
        "transe_warm_start": overall.get("transe_warm_start"),
        "test": test_report,
        "best_valid_mrr": fit["best_valid_mrr"],
        "best_epoch": fit["best_epoch"],
        "history": fit["history"],
        "transe_best_valid_mrr": transe_fit["best_valid_mrr"],
        "transe_best_epoch": transe_fit["best_epoch"],
        "transe_history": transe_fit["history"],
        "entities_without_training_triples": int((~seen).sum()),
        "transe_seconds": round(transe_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "eval_seconds": round(time.time() - t1, 2),
        "config": asdict(cfg),
    }
    logger.info("TransR test: MRR %.4f Hits@10 %.4f | degree %.4f | relation degree %.4f", overall["transr"]["mrr"],
                overall["transr"]["hits@10"], overall["degree"]["mrr"], overall["relation_degree"]["mrr"])
    return z.astype(np.float32), metrics
