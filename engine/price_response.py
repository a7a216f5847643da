"""Who stays insured when the premium rises: the take-up model a population file may declare.

`take_up.price_response` in a population file (docs/population.md) gives each health group an elasticity
(and a band an elasticity of its own, e.g. 0 for a band a donor pays in full). When a band's premium rises
from p to p', a member of it stays with probability (p / p')^elasticity; the healthy have the larger
elasticity, so those who leave are the healthier ones (adverse selection). A premium that falls changes
nothing: the model has no newcomers, whose claims the population has not drawn.

Each resident draws one uniform number u once (a seed of its own) and stays while u < (p / p')^e, that is
while log(u) / e < log(p / p'): the left side is computed once per resident, so trying a premium is one
comparison per resident. The same file gives the same leavers, and a higher premium only adds leavers
(monotone). Premiums become floats here only to weigh that draw, never as money.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .population import PopulationSpec, Residents

SEED_OFFSET = 3  # population.py draws residents at seed, take-up at seed + 1, claims at seed + 2


@dataclass
class PriceResponse:
    band: np.ndarray  # each resident's band, -1: not priced
    threshold: np.ndarray  # log(u) / elasticity: the resident stays while it is below log(p / p')
    statement: str  # the elasticities and why (`assumed:` or `source:`)

    def stays(self, before_fen: np.ndarray, after_fen: np.ndarray) -> np.ndarray:
        """Residents who stay when each band's premium goes from before_fen to after_fen (fen, one per band)."""
        log_rise = np.zeros(len(before_fen) + 1)  # the last cell: not priced (band -1)
        raised = after_fen > before_fen
        log_rise[:-1][raised] = np.log(before_fen[raised] / after_fen[raised])
        return self.threshold < log_rise[self.band]

    def among(self, who: np.ndarray) -> "PriceResponse":
        """The model for some of the residents only (e.g. those insured at the published premiums)."""
        return PriceResponse(self.band[who], self.threshold[who], self.statement)

    def assumptions(self) -> list[str]:
        return [self.statement]


def price_response(spec: PopulationSpec, people: Residents, band: np.ndarray, band_ids: list[str]
                   ) -> PriceResponse | None:
    """The file's take-up model for residents priced in these bands, or None when the file declares none."""
    node = spec.data["take_up"].get("price_response")
    if node is None:
        return None
    groups = node["elasticity"]
    by_band = {b: float(e) for b, e in node.get("by_band", {}).items()}
    own = np.array([by_band.get(b, np.nan) for b in band_ids] + [np.nan])[band]
    health = np.where(people.members.columns["pre_existing"] == 1, float(groups["pre_existing"]),
                      float(groups["healthy"]))
    elasticity = np.where(np.isnan(own), health, own)
    draw = np.random.default_rng(spec.seed + SEED_OFFSET).random(len(band))
    with np.errstate(divide="ignore", invalid="ignore"):  # u = 0 or elasticity 0: stays whatever the price
        threshold = np.where(elasticity > 0, np.log(draw) / elasticity, -np.inf)
    shown = "，".join([f"无既往症 {groups['healthy']}", f"既往症 {groups['pre_existing']}",
                      *(f"档位 {b} {e}" for b, e in node.get("by_band", {}).items())])
    why = node.get("assumed") or f"来源：{node['source']}"
    return PriceResponse(band, np.where(np.isnan(threshold), -np.inf, threshold),
                         f"take_up.price_response（弹性：{shown}）：{why}")
