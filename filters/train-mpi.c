/* train-mpi.c: the Open MPI calls of mli-train --mpi (see train-mpi.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* on_exit */
#endif
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#include "train-mpi.h"

/* Messages go in pieces of at most this many elements (MPI counts are
 * int). */
#define CHUNK (1u << 24)

/* A rank leaving with a failure status while the job runs takes the job
 * down with it: the others may be waiting in a collective call for it. */
static void abort_on_failure(int status, void *arg)
{
	int started = 0, finished = 0;
	(void)arg;
	if (status == 0 || MPI_Initialized(&started) != MPI_SUCCESS || !started)
		return;
	if (MPI_Finalized(&finished) == MPI_SUCCESS && finished)
		return;
	MPI_Abort(MPI_COMM_WORLD, status);
}

int train_mpi_start(int *argc, char ***argv, int *rank, int *ranks)
{
	if (MPI_Init(argc, argv) != MPI_SUCCESS)
		return -1;
	MPI_Comm_rank(MPI_COMM_WORLD, rank);
	MPI_Comm_size(MPI_COMM_WORLD, ranks);
	on_exit(abort_on_failure, NULL);
	return 0;
}

void train_mpi_finish(void)
{
	MPI_Finalize();
}

void train_mpi_sum_i64(int64_t *v, size_t n)
{
	for (size_t o = 0; o < n; o += CHUNK) {
		int c = (int)(n - o < CHUNK ? n - o : CHUNK);
		MPI_Allreduce(MPI_IN_PLACE, v + o, c, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
	}
}

static void sum_bcast(void *v, size_t n, size_t size, MPI_Datatype type)
{
	int rank;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	for (size_t o = 0; o < n; o += CHUNK) {
		int c = (int)(n - o < CHUNK ? n - o : CHUNK);
		char *p = (char *)v + o * size;
		MPI_Reduce(rank == 0 ? MPI_IN_PLACE : p, rank == 0 ? p : NULL, c, type, MPI_SUM, 0,
			   MPI_COMM_WORLD);
		MPI_Bcast(p, c, type, 0, MPI_COMM_WORLD);
	}
}

void train_mpi_sum_f32(float *v, size_t n)
{
	sum_bcast(v, n, sizeof *v, MPI_FLOAT);
}

void train_mpi_sum_f64(double *v, size_t n)
{
	sum_bcast(v, n, sizeof *v, MPI_DOUBLE);
}

void train_mpi_bcast_i64(int64_t *v, size_t n)
{
	MPI_Bcast(v, (int)n, MPI_INT64_T, 0, MPI_COMM_WORLD);
}

void train_mpi_gather(const void *mine, void *all, size_t bytes)
{
	MPI_Gather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
}
