// Private C shim behind LossDistributed's MPICommunicator: every MPI call LossKit
// makes is in lk_mpi.c. MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...)
// are macros or opaque types that Swift cannot use, so this header names them by
// plain integers and returns MPI's error codes (0 = MPI_SUCCESS).
#ifndef LK_MPI_H
#define LK_MPI_H

#include <stddef.h>

// Element types: 0 float, 1 double, 2 int64, 3 unsigned byte.
// Operations: 0 sum, 1 max, 2 min.

// Whether this process was started by an MPI launcher (mpirun/mpiexec, Open MPI's
// or PMIx's environment variables): only then is MPI initialized.
int lkmpi_launched(void);
// MPI_Init (once; later calls return 0) with errors returned rather than fatal on
// MPI_COMM_WORLD, and MPI_Finalize registered to run at exit.
int lkmpi_init(void);
int lkmpi_initialized(void);
int lkmpi_rank(int *rank);
int lkmpi_size(int *size);
// In place: every rank's `count` elements combined element by element with `op`.
int lkmpi_allreduce(void *values, ptrdiff_t count, int type, int op);
// In place: combined on rank 0 (MPI_Reduce), then broadcast from it, so that every
// rank holds the bits rank 0 holds.
int lkmpi_reduce_broadcast(void *values, ptrdiff_t count, int type, int op);
// MPI_Allgatherv: rank r contributes counts[r] elements, placed at displacements[r].
int lkmpi_allgatherv(const void *send, ptrdiff_t send_count, void *receive, const int *counts,
                     const int *displacements, int type);
// MPI_Gatherv to `root` (receive, counts and displacements are read on the root only).
int lkmpi_gatherv(const void *send, ptrdiff_t send_count, void *receive, const int *counts,
                  const int *displacements, int type, int root);
int lkmpi_broadcast(void *values, ptrdiff_t count, int type, int root);
int lkmpi_barrier(void);
// Terminates every rank of MPI_COMM_WORLD with `code`.
void lkmpi_abort(int code);
// MPI's text for an error code, into `buffer` (NUL-terminated).
void lkmpi_error_string(int code, char *buffer, int length);

#endif
