"""The world one round sees: the sites online, their maintenance, grid carbon, and the round's budgets.

Sites come from two places: generated European sites (``clusters.european_clusters``, their own random
maintenance dropped, scaled by one factor to the demand) and named sites with ``online``/``retire``
dates.  A site that comes online or retires inside a round is offered only for the slots it exists,
through ``Unavailability`` windows that withdraw all its GPUs; the scenario's maintenance windows are
added the same way.  Carbon intensity per slot is the country's profile (``clusters.carbon_profile``:
daily and seasonal shape) × the scenario's scale × ``(1 − decline_per_year)^years since start``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from simulations.clusters import GPU_TYPES, carbon_profile, deliverable_mwh, european_clusters, rescaled, sized
from simulations.scenario import Scenario, ScenarioError
from solver.problem import Cluster, GpuType, Horizon, PolicyConfig, Problem, Unavailability
from solver.sci import HOURS_PER_YEAR


@dataclass(frozen=True)
class SiteLife:
    cluster: Cluster  # without carbon profile or windows
    online_slot: int  # absolute; the site exists on [online_slot, retire_slot)
    retire_slot: int


@dataclass(frozen=True)
class World:
    scenario: Scenario
    sites: tuple[SiteLife, ...]
    gpu_types: dict[str, GpuType]
    maintenance: tuple[tuple[str, Unavailability], ...]  # site id, window in absolute slots

    def horizon(self, k: int) -> Horizon:
        s = self.scenario
        start = s.start + timedelta(minutes=s.slot_minutes * s.round_slots * k)
        return Horizon(start=start, slot_minutes=s.slot_minutes, slots=s.round_slots)

    def clusters(self, k: int) -> list[Cluster]:
        """Sites that exist at some slot of round ``k``, with their true carbon and this round's windows."""
        s = self.scenario
        first, last = k * s.round_slots, (k + 1) * s.round_slots
        horizon = self.horizon(k)
        years = (horizon.start - s.start).total_seconds() / 3600.0 / HOURS_PER_YEAR
        trend = (1.0 - s.carbon.decline_per_year) ** years
        out = []
        for life in self.sites:
            if life.online_slot >= last or life.retire_slot <= first:
                continue
            c = life.cluster
            windows = [_whole(c, g, 0, life.online_slot - first) for g in sorted(c.gpus)]
            windows += [_whole(c, g, life.retire_slot - first, s.round_slots) for g in sorted(c.gpus)]
            for site, u in self.maintenance:
                if site == c.id and u.from_slot < last and u.to_slot > first:
                    cut = {"from_slot": max(0, u.from_slot - first), "to_slot": min(last, u.to_slot) - first}
                    windows.append(u.model_copy(update=cut))
            scale = s.carbon.countries[c.country].scale if c.country in s.carbon.countries else 1.0
            profile = carbon_profile(c.country, horizon.start, s.round_slots, s.slot_minutes)
            intensity = [round(v * scale * trend, 1) for v in profile]
            out.append(c.model_copy(update={"carbon_intensity": intensity, "unavailable": [w for w in windows if w]}))
        if not out:
            raise ScenarioError(f"sites: no site is online in round {k} (from {horizon.start:%Y-%m-%d})")
        return out

    def policy(self, k: int, clusters: list[Cluster]) -> PolicyConfig:
        """The round's policy: shares and caps as written, the energy cap resolved to MWh for this round."""
        p = self.scenario.policy
        energy = p.energy_budget_mwh
        if p.energy_share is not None:
            empty = Problem(horizon=self.horizon(k), gpu_types=self.gpu_types, clusters=clusters, requests=[])
            energy = round(p.energy_share * deliverable_mwh(empty), 3)
        return PolicyConfig(
            category_shares=p.category_shares,
            org_cap_share=p.org_cap_share,
            energy_budget_mwh=energy,
            carbon_budget_t=p.carbon_budget_t,
        )


def _whole(c: Cluster, gpu_type: str, a: int, b: int) -> Unavailability | None:
    """All of a site's ``gpu_type`` withdrawn on round-relative ``[a, b)``, clipped to the round."""
    return None if b <= max(a, 0) else Unavailability(gpu_type=gpu_type, gpus=c.gpus[gpu_type], from_slot=max(a, 0),
                                                      to_slot=b)


def slot_of(scenario: Scenario, when: date | datetime) -> int:
    """Absolute slot of a calendar date (midnight) or time, counted from the scenario's start."""
    at = when if isinstance(when, datetime) else datetime.combine(when, time())
    if at.tzinfo is None and scenario.start.tzinfo is not None:
        at = at.replace(tzinfo=scenario.start.tzinfo)
    elif at.tzinfo is not None and scenario.start.tzinfo is None:
        at = at.replace(tzinfo=None)
    return int((at - scenario.start).total_seconds() // (60 * scenario.slot_minutes))


def build_world(scenario: Scenario, work_per_round: float, rng: np.random.Generator) -> World:
    """Sites for the whole run; generated ones are sized so one round asks ``demand_ratio`` × what they offer."""
    s = scenario
    never = s.total_slots + 1
    lives: list[SiteLife] = []
    gen = s.sites.generated
    if gen is not None:
        base = [c.model_copy(update={"unavailable": []})
                for c in european_clusters(gen.count, rng, s.round_slots, start=s.start, slot_minutes=s.slot_minutes)]
        if gen.demand_ratio is not None:
            base = sized(base, work_per_round / gen.demand_ratio / s.slot_hours, s.round_slots)
        else:
            base = [rescaled(c, gen.scale or 1.0) for c in base]
        lives += [SiteLife(c.model_copy(update={"carbon_intensity": 0.0}), 0, never) for c in base]
    for site in s.sites.extra:
        cluster = Cluster(id=site.id, country=site.country, operator=f"{site.id} ({site.country})", gpus=site.gpus,
                          power_cap_kw=site.power_cap_kw, pue=site.pue)
        online = slot_of(s, site.online) if site.online else 0
        lives.append(SiteLife(cluster, online, slot_of(s, site.retire) if site.retire else never))
    ids = [life.cluster.id for life in lives]
    clash = sorted({i for i in ids if ids.count(i) > 1})
    if clash:
        raise ScenarioError(f"sites.extra: site id(s) {clash} used twice; sites are {sorted(ids)}")
    for site_id, when in s.sites.retire.items():
        if site_id not in ids:
            raise ScenarioError(f"sites.retire.{site_id}: no such site; sites are {sorted(ids)}")
        i = ids.index(site_id)
        lives[i] = SiteLife(lives[i].cluster, lives[i].online_slot, min(lives[i].retire_slot, slot_of(s, when)))
    windows = []
    for i, m in enumerate(s.sites.maintenance):
        where = f"sites.maintenance[{i}]"
        if m.site not in ids:
            raise ScenarioError(f"{where}.site: no site {m.site!r}; sites are {sorted(ids)}")
        have = lives[ids.index(m.site)].cluster.gpus.get(m.gpu_type, 0)
        if have == 0:
            raise ScenarioError(f"{where}.gpu_type: {m.site} has no {m.gpu_type}")
        a = slot_of(s, m.start)
        b = a + max(1, round(m.hours / s.slot_hours))
        if b > 0 and a < s.total_slots:
            gpus = min(m.gpus, have)  # sizing may leave a site fewer GPUs than the file names: take them all
            windows.append((m.site, Unavailability(gpu_type=m.gpu_type, gpus=gpus, from_slot=max(a, 0), to_slot=b)))
    types = sorted({g for life in lives for g in life.cluster.gpus})
    return World(s, tuple(lives), {g: GPU_TYPES[g] for g in types}, tuple(windows))
