// The Panda's velocity servos (envs/velocity_motor.py) as a MuJoCo actuator plugin, so that
// MuJoCo's C engine applies every physics step the law that the MJX path computes in JAX:
//
//   wanted = rate * (ctrl - q) - qdot                  (each actuated joint's velocity change)
//   force  = M wanted / timestep                       (M: the group's block of the mass matrix)
//
// where a force is over its actuator's limit (forcerange), that joint gets the limit and the
// others still get exactly their change: the same rounds of an active set as
// velocity_motor.clamped_torques.
//
// One plugin instance drives a group of actuators (every actuator whose actuator_plugin is the
// instance), each on a hinge or slide joint. The attribute "rate" is the velocity asked per unit
// of position error (1/s).

#include <math.h>
#include <stdlib.h>

#include <mujoco/mujoco.h>

#define MAX_GROUP 16
#define ACTIVE_SET_ROUNDS 6  // velocity_motor.ACTIVE_SET_ROUNDS

static const char* attributes[] = {"rate"};

static int nstate(const mjModel* m, int instance) {
  (void)m;
  (void)instance;
  return 0;
}

static int init(const mjModel* m, mjData* d, int instance) {
  const char* rate = mj_getPluginConfig(m, instance, "rate");
  if (!rate || !rate[0]) {
    mju_warning("jaxik.velocity_servo: attribute 'rate' is required");
    return -1;
  }
  int count = 0;
  for (int i = 0; i < m->nu; i++) {
    if (m->actuator_plugin[i] != instance) continue;
    int joint = m->actuator_trnid[2 * i];
    if (m->actuator_trntype[i] != mjTRN_JOINT ||
        (m->jnt_type[joint] != mjJNT_HINGE && m->jnt_type[joint] != mjJNT_SLIDE)) {
      mju_warning("jaxik.velocity_servo: actuator %d must drive a hinge or slide joint", i);
      return -1;
    }
    count++;
  }
  if (count == 0 || count > MAX_GROUP) {
    mju_warning("jaxik.velocity_servo: instance %d drives %d actuators (1 to %d)", instance,
                count, MAX_GROUP);
    return -1;
  }
  mjtNum* value = (mjtNum*)malloc(sizeof(mjtNum));
  *value = strtod(rate, NULL);
  d->plugin_data[instance] = (uintptr_t)value;
  return 0;
}

static void destroy(mjData* d, int instance) {
  free((void*)d->plugin_data[instance]);
  d->plugin_data[instance] = 0;
}

static void reset(const mjModel* m, mjtNum* plugin_state, void* plugin_data, int instance) {
  (void)m;
  (void)plugin_state;
  (void)plugin_data;
  (void)instance;
}

static mjtNum sign_of(mjtNum x) { return x > 0 ? 1 : (x < 0 ? -1 : 0); }

// forces [n] that change the velocities by wanted [n] through inertia [n x n] in one timestep,
// each within +-limit [n] (velocity_motor.clamped_torques)
static void clamped_forces(const mjtNum* inertia, const mjtNum* wanted, const mjtNum* limit,
                           mjtNum timestep, int n, mjtNum* force) {
  int clamped[MAX_GROUP];
  mjtNum sign[MAX_GROUP], change[MAX_GROUP], rhs[MAX_GROUP], free_part[MAX_GROUP];
  mjtNum masked[MAX_GROUP * MAX_GROUP];
  for (int k = 0; k < n; k++) {
    mjtNum sum = 0;
    for (int j = 0; j < n; j++) sum += inertia[k * n + j] * wanted[j];
    force[k] = sum / timestep;
    clamped[k] = fabs(force[k]) > limit[k];
    sign[k] = sign_of(force[k]);
  }
  int any = 0;
  for (int k = 0; k < n; k++) any |= clamped[k];
  if (!any) return;  // every joint within its limit: the rounds would change nothing
  for (int round = 0; round < ACTIVE_SET_ROUNDS; round++) {
    for (int k = 0; k < n; k++) {
      free_part[k] = 0;
      for (int j = 0; j < n; j++) {
        if (!clamped[j]) free_part[k] += inertia[k * n + j] * wanted[j];
        masked[k * n + j] = (clamped[k] && clamped[j]) ? inertia[k * n + j] : (k == j);
      }
      rhs[k] = clamped[k] ? timestep * sign[k] * limit[k] - free_part[k] : 0;
    }
    mju_cholFactor(masked, n, 0);
    mju_cholSolve(change, masked, rhs, n);
    for (int k = 0; k < n; k++) {
      if (!clamped[k]) change[k] = wanted[k];
    }
    for (int k = 0; k < n; k++) {
      mjtNum sum = 0;
      for (int j = 0; j < n; j++) sum += inertia[k * n + j] * change[j];
      force[k] = sum / timestep;
    }
    int changed = 0;
    for (int k = 0; k < n; k++) {
      int over = !clamped[k] && fabs(force[k]) > limit[k];
      int overshoot = clamped[k] && sign[k] * (change[k] - wanted[k]) > 0;
      if (over) sign[k] = sign_of(force[k]);
      changed |= over || overshoot;
      clamped[k] = (clamped[k] || over) && !overshoot;
    }
    if (!changed) break;  // settled: further rounds would repeat this one
  }
  for (int k = 0; k < n; k++) force[k] = mju_clip(force[k], -limit[k], limit[k]);
}

static void compute(const mjModel* m, mjData* d, int instance, int capability_bit) {
  (void)capability_bit;
  mjtNum rate = *(mjtNum*)d->plugin_data[instance];
  int actuator[MAX_GROUP], dof[MAX_GROUP], n = 0;
  mjtNum wanted[MAX_GROUP], limit[MAX_GROUP], force[MAX_GROUP];
  mjtNum inertia[MAX_GROUP * MAX_GROUP];
  for (int i = 0; i < m->nu && n < MAX_GROUP; i++) {
    if (m->actuator_plugin[i] != instance) continue;
    int joint = m->actuator_trnid[2 * i];
    actuator[n] = i;
    dof[n] = m->jnt_dofadr[joint];
    wanted[n] = rate * (d->ctrl[i] - d->qpos[m->jnt_qposadr[joint]]) - d->qvel[dof[n]];
    limit[n] = m->actuator_forcerange[2 * i + 1];
    n++;
  }
  mj_markStack(d);
  mjtNum* full = mj_stackAllocNum(d, m->nv * m->nv);
  mj_fullM(m, d, full);
  for (int k = 0; k < n; k++) {
    for (int j = 0; j < n; j++) inertia[k * n + j] = full[dof[k] * m->nv + dof[j]];
  }
  mj_freeStack(d);
  clamped_forces(inertia, wanted, limit, m->opt.timestep, n, force);
  for (int k = 0; k < n; k++) d->actuator_force[actuator[k]] = force[k];
}

mjPLUGIN_LIB_INIT(jaxik_velocity_servo) {
  mjpPlugin plugin;
  mjp_defaultPlugin(&plugin);
  plugin.name = "jaxik.velocity_servo";
  plugin.capabilityflags |= mjPLUGIN_ACTUATOR;
  plugin.nattribute = sizeof(attributes) / sizeof(attributes[0]);
  plugin.attributes = attributes;
  plugin.nstate = nstate;
  plugin.init = init;
  plugin.destroy = destroy;
  plugin.reset = reset;
  plugin.compute = compute;
  mjp_registerPlugin(&plugin);
}
