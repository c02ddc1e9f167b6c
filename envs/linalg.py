"""Small dense linear algebra in plain JAX arithmetic, without LAPACK.

On the CPU, jaxlib 0.10's batched LAPACK kernels (``jnp.linalg.solve``, ``cho_factor``) split a
large batch over XLA's intra-op thread pool and then block waiting for the pieces. When XLA runs
as many such calls at once as the pool has threads, every thread waits and the program never
returns: a vmapped step of a few thousand environments hung this way on a 2-core machine. The
matrices here are tiny (6 x 6), so an unrolled factorisation costs little and cannot deadlock.
Last seen hanging on jaxlib 0.10; a short check on 0.12.1 did not hang, nor did one on 0.10.2
(tests/test_no_hang.py, the slow LAPACK test), which is why the rule stays.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def solve_spd(matrix: jax.Array, rhs: jax.Array) -> jax.Array:
    """``matrix^-1 @ rhs`` for a symmetric positive-definite ``matrix`` [n, n] and ``rhs`` [n],
    by a Cholesky factorisation unrolled at trace time (n is static and small)."""
    n = matrix.shape[0]
    lower: list[list[jax.Array | None]] = [[None] * n for _ in range(n)]
    for j in range(n):
        diagonal = matrix[j, j] - sum((lower[j][k] ** 2 for k in range(j)), jnp.zeros(()))
        lower[j][j] = jnp.sqrt(diagonal)
        for i in range(j + 1, n):
            dot = sum((lower[i][k] * lower[j][k] for k in range(j)), jnp.zeros(()))
            lower[i][j] = (matrix[i, j] - dot) / lower[j][j]
    forward: list[jax.Array] = []  # L y = rhs
    for i in range(n):
        dot = sum((lower[i][k] * forward[k] for k in range(i)), jnp.zeros(()))
        forward.append((rhs[i] - dot) / lower[i][i])
    solution: list[jax.Array | None] = [None] * n  # L^T x = y
    for i in reversed(range(n)):
        dot = sum((lower[k][i] * solution[k] for k in range(i + 1, n)), jnp.zeros(()))
        solution[i] = (forward[i] - dot) / lower[i][i]
    return jnp.stack(solution)
