// Every MPI call LossKit makes (see include/lk_mpi.h). Counts are checked to fit
// MPI's int before they are narrowed.
#include "lk_mpi.h"
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

static MPI_Datatype lkmpi_type(int type) {
    switch (type) {
    case 0: return MPI_FLOAT;
    case 1: return MPI_DOUBLE;
    case 2: return MPI_INT64_T;
    default: return MPI_UNSIGNED_CHAR;
    }
}

static MPI_Op lkmpi_op(int op) {
    switch (op) {
    case 1: return MPI_MAX;
    case 2: return MPI_MIN;
    default: return MPI_SUM;
    }
}

int lkmpi_launched(void) {
    static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL};
    for (int i = 0; names[i]; i++)
        if (getenv(names[i])) return 1;
    return 0;
}

static void lkmpi_finalize_at_exit(void) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
}

int lkmpi_initialized(void) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

int lkmpi_init(void) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return MPI_SUCCESS;
    int rc = MPI_Init(NULL, NULL);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    atexit(lkmpi_finalize_at_exit);
    return MPI_SUCCESS;
}

int lkmpi_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
int lkmpi_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }

static int lkmpi_fits(ptrdiff_t count) { return count >= 0 && count <= INT_MAX; }

int lkmpi_allreduce(void *values, ptrdiff_t count, int type, int op) {
    if (!lkmpi_fits(count)) return MPI_ERR_COUNT;
    return MPI_Allreduce(MPI_IN_PLACE, values, (int)count, lkmpi_type(type), lkmpi_op(op), MPI_COMM_WORLD);
}

int lkmpi_reduce_broadcast(void *values, ptrdiff_t count, int type, int op) {
    if (!lkmpi_fits(count)) return MPI_ERR_COUNT;
    int rank = 0, rc = MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rc != MPI_SUCCESS) return rc;
    if (rank == 0)
        rc = MPI_Reduce(MPI_IN_PLACE, values, (int)count, lkmpi_type(type), lkmpi_op(op), 0, MPI_COMM_WORLD);
    else
        rc = MPI_Reduce(values, NULL, (int)count, lkmpi_type(type), lkmpi_op(op), 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Bcast(values, (int)count, lkmpi_type(type), 0, MPI_COMM_WORLD);
}

int lkmpi_allgatherv(const void *send, ptrdiff_t send_count, void *receive, const int *counts,
                     const int *displacements, int type) {
    if (!lkmpi_fits(send_count)) return MPI_ERR_COUNT;
    return MPI_Allgatherv(send, (int)send_count, lkmpi_type(type), receive, counts, displacements, lkmpi_type(type),
                          MPI_COMM_WORLD);
}

int lkmpi_gatherv(const void *send, ptrdiff_t send_count, void *receive, const int *counts,
                  const int *displacements, int type, int root) {
    if (!lkmpi_fits(send_count)) return MPI_ERR_COUNT;
    return MPI_Gatherv(send, (int)send_count, lkmpi_type(type), receive, counts, displacements, lkmpi_type(type), root,
                       MPI_COMM_WORLD);
}

int lkmpi_broadcast(void *values, ptrdiff_t count, int type, int root) {
    if (!lkmpi_fits(count)) return MPI_ERR_COUNT;
    return MPI_Bcast(values, (int)count, lkmpi_type(type), root, MPI_COMM_WORLD);
}

int lkmpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

void lkmpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void lkmpi_error_string(int code, char *buffer, int length) {
    if (length <= 0) return;
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(code, text, &n) != MPI_SUCCESS) n = 0;
    if (n >= length) n = length - 1;
    memcpy(buffer, text, (size_t)n);
    buffer[n] = 0;
}
