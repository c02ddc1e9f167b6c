// PyBullet's calculateInverseKinematics as panda-gym calls it, for a batch of arms, on MuJoCo's
// kinematics: the C twin of envs/ik.py's pybullet_solve, for the C engine's path (the JAX one
// costs more than the physics there). Per arm, seeded with its joint angles:
//
//   up to 20 steps dq = (J^T J + 0.5 I)^-1 J^T e, e = (position error, rotation vector of the
//   orientation error), J = [jacp; jacr] of the site over the first n dofs (hinges, each a
//   child of the one before, all moving the site), each step scaled so
//   that no joint moves more than 45 degrees, a step taken while the position error measured
//   before it is at least 1e-4 m.
//
// The batch is split over threads, each with its own mjData.

#include <math.h>
#include <pthread.h>
#include <string.h>

#include <mujoco/mujoco.h>

#define MAX_DOF 16
#define ITERATIONS 20
#define JOINT_DAMPING 0.5
#define RESIDUAL 1e-4
#define MAX_STEP (mjPI / 4)

typedef struct {
  const mjModel* m;
  mjData* d;
  int site, ndof, first, last;
  const mjtNum* qpos;      // [nbatch, nq]
  const mjtNum* target;    // [nbatch, 3]
  const mjtNum* rotation;  // [9], row-major, the site's target orientation
  mjtNum* out;             // [nbatch, ndof]
} Work;

// rotation vector (axis * angle, angle in [0, pi)) of a row-major rotation matrix
static void rotation_vector(const mjtNum* r, mjtNum* vector) {
  mjtNum half[3] = {0.5 * (r[7] - r[5]), 0.5 * (r[2] - r[6]), 0.5 * (r[3] - r[1])};
  mjtNum sine = mju_norm3(half);
  mjtNum cosine = 0.5 * (r[0] + r[4] + r[8] - 1);
  mjtNum angle = atan2(sine, cosine);
  mjtNum scale = sine > 1e-7 ? angle / sine : 1;
  mju_scl3(vector, half, scale);
}

#define MAX_CHAIN 32

// The site's position [3] and rotation (row-major [9]) at joint angles qpos, with each hinge's
// anchor and axis in the world frame (anchor, axis: [njnt, 3]), computed for the bodies from
// the world to the site's body only: what mj_kinematics computes for them, for a fraction of
// its cost on a scene with more bodies, geoms and sites.
static void chain_frame(const mjModel* m, const mjtNum* qpos, int site, mjtNum* site_pos,
                        mjtNum* site_mat, mjtNum* anchor, mjtNum* axis) {
  int chain[MAX_CHAIN], length = 0;
  for (int body = m->site_bodyid[site]; body > 0 && length < MAX_CHAIN;
       body = m->body_parentid[body]) {
    chain[length++] = body;
  }
  mjtNum pos[3] = {0, 0, 0}, quat[4] = {1, 0, 0, 0}, offset[3];
  for (int c = length - 1; c >= 0; c--) {
    int body = chain[c];
    mju_rotVecQuat(offset, m->body_pos + 3 * body, quat);
    mju_addTo3(pos, offset);
    mjtNum turned[4];
    mju_mulQuat(turned, quat, m->body_quat + 4 * body);
    mju_copy4(quat, turned);
    for (int j = m->body_jntadr[body]; j >= 0 && j < m->body_jntadr[body] + m->body_jntnum[body];
         j++) {
      const mjtNum* local = m->jnt_pos + 3 * j;
      mju_rotVecQuat(offset, local, quat);
      mju_add3(anchor + 3 * j, pos, offset);
      mju_rotVecQuat(axis + 3 * j, m->jnt_axis + 3 * j, quat);
      mjtNum rotation[4];
      int adr = m->jnt_qposadr[j];
      mju_axisAngle2Quat(rotation, m->jnt_axis + 3 * j, qpos[adr] - m->qpos0[adr]);
      mju_mulQuat(turned, quat, rotation);
      mju_normalize4(turned);
      mju_copy4(quat, turned);
      mju_rotVecQuat(offset, local, quat);
      mju_sub3(pos, anchor + 3 * j, offset);
    }
  }
  mju_rotVecQuat(offset, m->site_pos + 3 * site, quat);
  mju_add3(site_pos, pos, offset);
  mjtNum site_quat[4];
  mju_mulQuat(site_quat, quat, m->site_quat + 4 * site);
  mju_quat2Mat(site_mat, site_quat);
}

static void solve_one(const Work* w, int index) {
  const mjModel* m = w->m;
  mjData* d = w->d;
  int n = w->ndof;
  mju_copy(d->qpos, w->qpos + (size_t)index * m->nq, m->nq);
  mjtNum jac[6 * MAX_DOF];  // [jacp; jacr] over the first n dofs, row-major [6, n]
  mjtNum position[3], current[9];
  mjtNum* anchor = d->xanchor;  // this thread's mjData holds the chain's anchors and axes
  mjtNum* axes = d->xaxis;
  for (int iteration = 0; iteration < ITERATIONS; iteration++) {
    chain_frame(m, d->qpos, w->site, position, current, anchor, axes);
    mjtNum error[6];
    mju_sub3(error, w->target + 3 * (size_t)index, position);
    if (mju_norm3(error) < RESIDUAL) break;
    mjtNum turn[9];  // target * current^T
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        turn[3 * i + j] = 0;
        for (int k = 0; k < 3; k++) turn[3 * i + j] += w->rotation[3 * i + k] * current[3 * j + k];
      }
    }
    rotation_vector(turn, error + 3);
    // each hinge's column: its axis, and the axis across the lever to the site (the chain's
    // joints all move the site; init checked they are hinges)
    for (int a = 0; a < n; a++) {
      int joint = m->dof_jntid[a];
      const mjtNum* axis = axes + 3 * joint;
      mjtNum lever[3], moment[3];
      mju_sub3(lever, position, anchor + 3 * joint);
      mju_cross(moment, axis, lever);
      for (int r = 0; r < 3; r++) {
        jac[r * n + a] = moment[r];
        jac[(r + 3) * n + a] = axis[r];
      }
    }
    mjtNum gram[MAX_DOF * MAX_DOF], rhs[MAX_DOF], step[MAX_DOF];
    for (int a = 0; a < n; a++) {
      rhs[a] = 0;
      for (int r = 0; r < 6; r++) rhs[a] += jac[r * n + a] * error[r];
      for (int b = 0; b < n; b++) {
        mjtNum sum = a == b ? JOINT_DAMPING : 0;
        for (int r = 0; r < 6; r++) sum += jac[r * n + a] * jac[r * n + b];
        gram[a * n + b] = sum;
      }
    }
    mju_cholFactor(gram, n, 0);
    mju_cholSolve(step, gram, rhs, n);
    mjtNum largest = 0;
    for (int a = 0; a < n; a++) largest = fmax(largest, fabs(step[a]));
    mjtNum scale = largest > MAX_STEP ? MAX_STEP / largest : 1;
    for (int a = 0; a < n; a++) d->qpos[m->jnt_qposadr[m->dof_jntid[a]]] += scale * step[a];
  }
  for (int a = 0; a < n; a++) {
    w->out[(size_t)index * n + a] = d->qpos[m->jnt_qposadr[m->dof_jntid[a]]];
  }
}

static void* run(void* argument) {
  const Work* w = (const Work*)argument;
  for (int index = w->first; index < w->last; index++) solve_one(w, index);
  return NULL;
}

// Joint angles out [nbatch, ndof] of the first ndof dofs (hinges or slides, one per joint) for
// joint angles qpos [nbatch, nq] and site targets target [nbatch, 3] with the orientation
// rotation [9]; data: nthread mjData of m. Returns 0, or -1 on bad sizes.
int jaxik_pybullet_ik(const mjModel* m, mjData** data, int nthread, int nbatch, int site,
                      int ndof, const mjtNum* qpos, const mjtNum* target,
                      const mjtNum* rotation, mjtNum* out) {
  if (ndof < 1 || ndof > MAX_DOF || ndof > m->nv || nthread < 1 || site < 0 ||
      site >= m->nsite) {
    return -1;
  }
  for (int a = 0; a < ndof; a++) {
    if (m->jnt_type[m->dof_jntid[a]] != mjJNT_HINGE) return -1;
  }
  pthread_t threads[64];
  int created[64] = {0};
  Work work[64];
  if (nthread > 64) nthread = 64;
  int chunk = (nbatch + nthread - 1) / nthread;
  for (int t = 0; t < nthread; t++) {
    Work w = {m, data[t], site, ndof, t * chunk, (t + 1) * chunk, qpos, target, rotation, out};
    if (w.first > nbatch) w.first = nbatch;
    if (w.last > nbatch) w.last = nbatch;
    work[t] = w;
  }
  for (int t = 1; t < nthread; t++) {
    if (work[t].first >= work[t].last) continue;
    created[t] = pthread_create(&threads[t], NULL, run, &work[t]) == 0;
    if (!created[t]) run(&work[t]);  // no thread: do it here
  }
  run(&work[0]);
  for (int t = 1; t < nthread; t++) {
    if (created[t]) pthread_join(threads[t], NULL);
  }
  return 0;
}
