"""annealax: simulated annealing as pure-functional Optax transformations."""

from annealax._anneal import AnnealResult, AnnealTrace, anneal
from annealax._cooling import (
    cooling_rate_for_steps,
    exponential_cooling,
    friction_cooling,
    linear_cooling,
    momentum_schedule,
)
from annealax._coolmomentum import (
    CoolMomentumState,
    ScaleByCoolMomentumState,
    coolmomentum,
    scale_by_coolmomentum,
)
from annealax._metropolis import MetropolisState, metropolis
from annealax._sharding import shard_chains
from annealax._temperature import TrackTemperatureState, track_temperature

__version__ = "0.1.0"

__all__ = [
    "AnnealResult",
    "AnnealTrace",
    "CoolMomentumState",
    "MetropolisState",
    "ScaleByCoolMomentumState",
    "TrackTemperatureState",
    "anneal",
    "cooling_rate_for_steps",
    "coolmomentum",
    "exponential_cooling",
    "friction_cooling",
    "linear_cooling",
    "metropolis",
    "momentum_schedule",
    "scale_by_coolmomentum",
    "shard_chains",
    "track_temperature",
]
