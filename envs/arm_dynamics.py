"""One MJX physics step of an arm, with only the stages its model needs, and the little state that
carries from one step to the next.

``mjx.step`` runs every stage MuJoCo has (cameras, tendons, collision, constraints, sensors) and
carries the whole ``mjx.Data``. For an arm without contacts, limits, tendons or sensors, and with
the Euler integrator, the next (qpos, qvel) depends on qpos, qvel and ctrl only, through
kinematics, the mass matrix, the bias, passive and actuator forces, and the integrator. Calling
just those MJX stages gives the same numbers (tests/test_panda_kinematics.py checks them equal to
``mjx.step``) with a smaller graph, which XLA compiles in less time. A model that needs more
(contacts, joint limits) gets ``mjx.step`` itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from flax import struct
from mujoco import mjx

from envs import warp_physics


@struct.dataclass
class ArmState:
    """What carries between physics steps: [nq], [nv], [nv]."""

    qpos: jax.Array
    qvel: jax.Array
    qacc_warmstart: jax.Array  # the constraint solver's starting point (used with constraints)


def needs_full_step(model: mujoco.MjModel) -> bool:
    """Whether ``model`` needs stages that ``smooth_step`` leaves out (or another integrator)."""
    disabled = model.opt.disableflags
    contacts = not disabled & mujoco.mjtDisableBit.mjDSBL_CONTACT and model.ngeom > 0
    limits = not disabled & mujoco.mjtDisableBit.mjDSBL_LIMIT and model.jnt_limited.any()
    return bool(
        contacts
        or limits
        or model.neq
        or model.ntendon
        or model.nsensor
        or model.na
        or model.dof_frictionloss.any()
        or model.opt.integrator != mujoco.mjtIntegrator.mjINT_EULER
    )


def smooth_step(model: mjx.Model, data: mjx.Data) -> mjx.Data:
    """``mjx.step`` of a model that ``needs_full_step`` says no to: its positions, mass matrix,
    forces and Euler integration; qpos, qvel and qacc_warmstart of the result are exact."""
    data = mjx.kinematics(model, data)
    data = mjx.com_pos(model, data)
    data = mjx.crb(model, data)
    data = mjx.factor_m(model, data)
    data = mjx.transmission(model, data)
    data = mjx.fwd_velocity(model, data)
    data = mjx.fwd_actuation(model, data)
    data = mjx.fwd_acceleration(model, data)
    data = data.replace(qacc=data.qacc_smooth)
    return mjx.euler(model, data)


class ArmDynamics:
    """``step(state, ctrl)``: one physics step of ``model`` from an ``ArmState``.

    ``template`` is an ``mjx.Data`` of the model (say at rest) that supplies every field the state
    does not: nothing in it but qpos, qvel, qacc_warmstart and ctrl affects a step. A model put
    for MuJoCo Warp (``impl="warp"``, envs/warp_physics.py) steps the same way; its template's
    buffers are rebuilt in the trace rather than held as constants.
    """

    def __init__(self, mj_model: mujoco.MjModel, model: mjx.Model, template: mjx.Data):
        self.model = model
        self.warp = model.impl.value == "warp"
        self.template = warp_physics.packed(template) if self.warp else template
        self.full = needs_full_step(mj_model) or self.warp

    def state(self, data: mjx.Data) -> ArmState:
        return ArmState(data.qpos, data.qvel, data.qacc_warmstart)

    def step(self, state: ArmState, ctrl: jax.Array) -> ArmState:
        """state: ArmState, ctrl [nu] -> the ArmState one timestep later."""
        return self.checked_step(state, ctrl)[0]

    def checked_step(self, state: ArmState, ctrl: jax.Array) -> tuple[ArmState, jax.Array]:
        """``step``, and whether it ran out of a MuJoCo Warp buffer [] bool (never on MJX)."""
        template = warp_physics.unpacked(self.template) if self.warp else self.template
        data = template.replace(
            qpos=state.qpos, qvel=state.qvel, qacc_warmstart=state.qacc_warmstart, ctrl=ctrl
        )
        data = mjx.step(self.model, data) if self.full else smooth_step(self.model, data)
        overflow = warp_physics.overflowed(data) if self.warp else jnp.zeros((), bool)
        return self.state(data), overflow
