"""Software Carbon Intensity (ISO/IEC 21031:2024, the Green Software Foundation's SCI) per GPU-hour.

``SCI = (E × I + M) / R``: ``E × I`` the operational emissions (energy times the grid's carbon
intensity), ``M`` the embodied emissions of the hardware's share of its manufacture, and ``R`` the
functional unit, here one GPU-hour.  The live ledger and the simulations use the same definitions,
so this module sits below both.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from solver.problem import Frozen

HOURS_PER_YEAR = 8766.0


class SciSpec(Frozen):
    """Embodied carbon for SCI's M term: per installed GPU with its share of the host, over its service life.

    Defaults follow Luccioni et al. (2023, BLOOM): about 150 kgCO2e per GPU and 2.5 t per 8-GPU server,
    hence ~460 kg per GPU, written off over six years.  Orders of magnitude, not a measurement.
    """

    embodied_kg_per_gpu: Annotated[float, Field(ge=0.0)] = 460.0
    lifetime_years: Annotated[float, Field(gt=0.0)] = 6.0

    @property
    def kg_per_gpu_hour(self) -> float:
        return self.embodied_kg_per_gpu / (self.lifetime_years * HOURS_PER_YEAR)


def sci(co2_kg: float, embodied_kg: float, gpu_hours: float) -> float:
    """gCO2e per GPU-hour served: ``(E × I + M) / R``."""
    return 1000.0 * (co2_kg + embodied_kg) / gpu_hours if gpu_hours > 0 else 0.0
