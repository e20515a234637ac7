"""The Metropolis annealer: a small kernel and the parts around it.

* `kernel`: propose, score and accept or reject every chain (the Metropolis test).
* `moves`, `random_walk`, `jumps`: how chains move (per chain or as a population).
* `bounds`: checks, reflection and the box's width.
* `adaptation`: step sizes tuned towards an acceptance rate.
* `temperature`, `schedules`: constants, schedules, and the temperature measured at the start.
* `tempering`: replica exchange.
* `state`: what the chains carry, the parts' sub-states, the last step's info.
* `transformation`: `metropolis`, the parts assembled into an Optax transformation.
* `anneal`, `polish`, `status`: a whole run in one compiled call.
* `sharding`: the chains over devices.
"""
