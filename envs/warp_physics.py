"""MuJoCo Warp as the physics of a contact scene: MJX's ``impl="warp"``, sized from the scene.

MJX runs a model either as JAX code (``impl="jax"``, what ``physics_engine="mjx"`` uses) or as
MuJoCo Warp's kernels called from the compiled program (``impl="warp"``), NVIDIA's GPU
implementation of MuJoCo; Warp also runs its kernels on the CPU, slowly, which is where this
project's tests check the two against each other (tests/test_warp_physics.py). It needs the
``warp`` extra (``pip install -e ".[warp]"``: NVIDIA's warp-lang, at the version the installed MJX
names).

MuJoCo Warp preallocates its contact and constraint buffers: ``naconmax`` contacts shared by all
the environments one physics call steps (under ``jax.vmap``, every environment of every run of a
program), and ``njmax`` constraint rows per environment. ``sizes`` derives both from the scene:
the scenes collide only their explicit contact pairs, and each pair of geom types has a most
contacts MuJoCo's collision function for it returns (``PAIR_CONTACTS``); a step that runs out
anyway sets the buffer bits of MuJoCo Warp's ``overflow`` word, which ``overflowed`` reads, and
the environment reports them (metric ``physics_overflow``) instead of stepping on with contacts
dropped.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

EXTRA = 'pip install -e ".[warp]"'

_G = mujoco.mjtGeom
PAIR_CONTACTS = {
    frozenset({_G.mjGEOM_PLANE, _G.mjGEOM_SPHERE}): 1,
    frozenset({_G.mjGEOM_PLANE, _G.mjGEOM_CAPSULE}): 2,
    frozenset({_G.mjGEOM_PLANE, _G.mjGEOM_BOX}): 4,
    frozenset({_G.mjGEOM_PLANE, _G.mjGEOM_CYLINDER}): 4,
    frozenset({_G.mjGEOM_CAPSULE, _G.mjGEOM_BOX}): 2,
    frozenset({_G.mjGEOM_CAPSULE}): 2,
    frozenset({_G.mjGEOM_BOX}): 8,
}
"""The most contacts MuJoCo's collision function returns for a pair of geom types (a set of one
type: two geoms of it). Any other pair (convex ones, collided by GJK with several contacts) counts
``mujoco.mjMAXCONPAIR``, MuJoCo's limit for any pair."""

BUFFER_OVERFLOWS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 8)
"""The bits of MuJoCo Warp's ``overflow`` word (its ``OverflowType``) that mean a buffer ran out:
constraint rows (NEFC, NJMAX_NNZ), contacts (BROADPHASE, NARROWPHASE, CCD), active degrees of
freedom (NVMAX) and the EPA horizon. The others (the solver's iteration limits) are no error."""


@dataclasses.dataclass(frozen=True)
class WarpSizes:
    """MuJoCo Warp's buffers for a scene: contacts per environment and for all of them
    together (``naconmax``), constraint rows per environment (``njmax``)."""

    contacts_per_env: int
    envs: int
    rows_per_env: int

    @property
    def naconmax(self) -> int:
        return self.contacts_per_env * self.envs


def installed() -> bool:
    """Whether MJX can run MuJoCo Warp here (NVIDIA's warp-lang imports)."""
    from mujoco.mjx import warp as mjx_warp

    return bool(mjx_warp.WARP_INSTALLED)


def require(setting: str) -> None:
    """Raises, naming ``setting``, where MuJoCo Warp is not installed."""
    if not installed():
        raise ImportError(
            f"{setting} runs MuJoCo Warp, which needs NVIDIA's warp-lang: {EXTRA} (or choose "
            "another physics engine)"
        )


def pair_contacts(model: mujoco.MjModel, geom1: int, geom2: int) -> int:
    """The most contacts MuJoCo returns for geoms ``geom1`` and ``geom2`` (``PAIR_CONTACTS``)."""
    kinds = frozenset({_G(int(model.geom_type[geom1])), _G(int(model.geom_type[geom2]))})
    return PAIR_CONTACTS.get(kinds, mujoco.mjMAXCONPAIR)


def contacts_per_env(model: mujoco.MjModel) -> int:
    """The most contacts one environment of ``model`` can have in a step: the sum over its
    explicit contact pairs. A scene that also collides geoms by contype and conaffinity is not
    bounded this way (the project's scenes list their pairs: envs/manipulation_scene.py)."""
    if model.ngeom and (model.geom_contype.any() and model.geom_conaffinity.any()):
        colliding = model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CONTACT == 0
        filtered = _filtered_pairs(model)
        if colliding and filtered:
            raise ValueError(
                f"the scene collides {filtered} geom pairs by contype/conaffinity besides its "
                f"{model.npair} explicit pairs; contacts_per_env bounds explicit pairs only"
            )
    pairs = zip(model.pair_geom1, model.pair_geom2, strict=True)
    return int(sum(pair_contacts(model, a, b) for a, b in pairs))


def _filtered_pairs(model: mujoco.MjModel) -> int:
    """How many geom pairs MuJoCo's broadphase would collide by contype/conaffinity (distinct
    weld bodies, not both fixed, not parent and child)."""
    g1, g2 = np.triu_indices(model.ngeom, k=1)
    w1 = model.body_weldid[model.geom_bodyid[g1]]
    w2 = model.body_weldid[model.geom_bodyid[g2]]
    p1, p2 = model.body_weldid[model.body_parentid[w1]], model.body_weldid[model.body_parentid[w2]]
    types = model.geom_contype
    affinity = model.geom_conaffinity
    masked = ((types[g1] & affinity[g2]) | (types[g2] & affinity[g1])).astype(bool)
    parent = (w1 != 0) & (w2 != 0) & ((w1 == p2) | (w2 == p1))
    fixed = (model.body_dofnum[w1] == 0) & (model.body_dofnum[w2] == 0)
    return int((masked & (w1 != w2) & ~parent & ~fixed).sum())


def rows_per_env(model: mujoco.MjModel, contacts: int) -> int:
    """Constraint rows one environment can need: each contact's (condim on an elliptic cone,
    2 (condim - 1) on a pyramid), plus one per equality row, joint limit and frictional dof."""
    condim = int(max(model.pair_dim.max(initial=1), model.geom_condim.max(initial=1)))
    elliptic = model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC
    per_contact = condim if elliptic or condim == 1 else 2 * (condim - 1)
    limits = (
        int(model.jnt_limited.sum())
        if not model.opt.disableflags & (mujoco.mjtDisableBit.mjDSBL_LIMIT)
        else 0
    )
    equality = 6 * model.neq
    friction = int((model.dof_frictionloss > 0).sum())
    return contacts * per_contact + limits + equality + friction


def sizes(model: mujoco.MjModel, envs: int) -> WarpSizes:
    """Buffers for ``envs`` environments of ``model`` stepped together."""
    contacts = contacts_per_env(model)
    return WarpSizes(contacts, envs, rows_per_env(model, contacts))


def put(model: mujoco.MjModel, data: mujoco.MjData, warp: WarpSizes) -> tuple[mjx.Model, mjx.Data]:
    """The model and a data (say at rest) for MuJoCo Warp, its buffers ``warp``. The data's
    large buffers are rebuilt when a step traces (``unpacked``), not held as constants."""
    put_model = mjx.put_model(model, impl="warp")
    # MuJoCo Warp prints a line per step for each overflow it warns of, the solver's iteration
    # limits among them, which a fixed budget of iterations reaches on purpose: only buffers
    warned = put_model.opt._impl.replace(warn_overflow=BUFFER_OVERFLOWS)
    put_model = put_model.replace(opt=put_model.opt.replace(_impl=warned))
    put_data = mjx.put_data(
        model, data, impl="warp", naconmax=warp.naconmax, njmax=warp.rows_per_env
    )
    return put_model, put_data


def packed(data: mjx.Data, threshold: int = 4096) -> mjx.Data:
    """``data`` with every leaf of more than ``threshold`` elements that holds one value
    throughout replaced by a ``Filled`` (its shape, dtype and value): a compiled step rebuilds
    those (``unpacked``) instead of carrying the contact buffer, sized for every environment of
    a call, as a constant in its program."""

    def pack(leaf):
        if isinstance(leaf, np.ndarray | jax.Array) and np.size(leaf) > threshold:
            values = np.asarray(leaf)
            first = values.flat[0]
            if (values == first).all():
                return Filled(values.shape, values.dtype.name, first.item())
        return leaf

    return jax.tree.map(pack, data)


def unpacked(data: mjx.Data) -> mjx.Data:
    """``packed``'s inverse, inside a trace: each ``Filled`` leaf as a ``jnp.full``."""

    def unpack(leaf):
        if isinstance(leaf, Filled):
            return jnp.full(leaf.shape, leaf.value, leaf.dtype)
        return leaf

    return jax.tree.map(unpack, data)


@dataclasses.dataclass(frozen=True)
class Filled:
    """A leaf of one value throughout, by its shape, dtype name and value."""

    shape: tuple[int, ...]
    dtype: str
    value: float | int | bool


def overflowed(data: mjx.Data) -> jax.Array:
    """Whether the step that made ``data`` ran out of a buffer (``BUFFER_OVERFLOWS``) [] bool."""
    return (data._impl.overflow & BUFFER_OVERFLOWS) != 0
