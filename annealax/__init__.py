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
from annealax._polish import Polish, polish
from annealax._proposals import RandomWalk, random_walk
from annealax._schedules import (
    geometric_temperature,
    linear_temperature,
    logarithmic_temperature,
    restarting_temperature,
)
from annealax._sharding import shard_chains
from annealax._status import AnnealStatus
from annealax._temperature import TrackTemperatureState, track_temperature
from annealax._tempering import ReplicaExchange, replica_exchange

__version__ = "0.1.0"

__all__ = [
    "AnnealResult",
    "AnnealStatus",
    "AnnealTrace",
    "CoolMomentumState",
    "MetropolisState",
    "Polish",
    "RandomWalk",
    "ReplicaExchange",
    "ScaleByCoolMomentumState",
    "TrackTemperatureState",
    "anneal",
    "cooling_rate_for_steps",
    "coolmomentum",
    "exponential_cooling",
    "friction_cooling",
    "geometric_temperature",
    "linear_cooling",
    "linear_temperature",
    "logarithmic_temperature",
    "metropolis",
    "momentum_schedule",
    "polish",
    "random_walk",
    "replica_exchange",
    "restarting_temperature",
    "scale_by_coolmomentum",
    "shard_chains",
    "track_temperature",
]
