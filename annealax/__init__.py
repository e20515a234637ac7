"""annealax: simulated annealing as pure-functional Optax transformations."""

from annealax._annealing.adaptation import AdaptStepSize, adapt_step_size
from annealax._annealing.anneal import AnnealResult, anneal
from annealax._annealing.barker import MinibatchBarker, minibatch_barker
from annealax._annealing.covariance import CovarianceMove, covariance_move
from annealax._annealing.jumps import Jumps, jumps
from annealax._annealing.kernel import Proposal
from annealax._annealing.mixture import Mixture, mixture
from annealax._annealing.moves import (
    DifferentialEvolution,
    PopulationMove,
    differential_evolution,
    population_move,
)
from annealax._annealing.polish import Polish, polish
from annealax._annealing.random_walk import RandomWalk, random_walk
from annealax._annealing.schedules import (
    geometric_temperature,
    linear_temperature,
    logarithmic_temperature,
    restarting_temperature,
)
from annealax._annealing.sharding import shard_chains
from annealax._annealing.state import AnnealTrace, ChainInfo, MetropolisState, StepInfo, Walkers
from annealax._annealing.status import AnnealStatus
from annealax._annealing.temperature import AutoTemperature, auto_temperature
from annealax._annealing.tempering import ReplicaExchange, replica_exchange
from annealax._annealing.transformation import metropolis
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
from annealax._temperature import TrackTemperatureState, track_temperature

__version__ = "0.1.0"

__all__ = [
    "AdaptStepSize",
    "AnnealResult",
    "AnnealStatus",
    "AnnealTrace",
    "AutoTemperature",
    "ChainInfo",
    "CoolMomentumState",
    "CovarianceMove",
    "DifferentialEvolution",
    "Jumps",
    "MetropolisState",
    "MinibatchBarker",
    "Mixture",
    "Polish",
    "PopulationMove",
    "Proposal",
    "RandomWalk",
    "ReplicaExchange",
    "ScaleByCoolMomentumState",
    "StepInfo",
    "TrackTemperatureState",
    "Walkers",
    "adapt_step_size",
    "anneal",
    "auto_temperature",
    "cooling_rate_for_steps",
    "coolmomentum",
    "covariance_move",
    "differential_evolution",
    "exponential_cooling",
    "friction_cooling",
    "geometric_temperature",
    "jumps",
    "linear_cooling",
    "linear_temperature",
    "logarithmic_temperature",
    "metropolis",
    "minibatch_barker",
    "mixture",
    "momentum_schedule",
    "polish",
    "population_move",
    "random_walk",
    "replica_exchange",
    "restarting_temperature",
    "scale_by_coolmomentum",
    "shard_chains",
    "track_temperature",
]
