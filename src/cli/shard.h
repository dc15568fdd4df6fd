/* shard.h — which shard of a manifest `vs2 batch` scores: --shard K/N, or from a scheduler's
 * variables (Slurm job arrays, Kubernetes indexed Jobs); per-shard output paths. */
#ifndef VS2_CLI_SHARD_H
#define VS2_CLI_SHARD_H

typedef struct cli_shard {
    const char *spec;   /* the --shard value ("K/N" or "auto"); NULL = not given */
    const char *count_spec; /* the --shards value; NULL = not given */
    long long count;    /* --shards N as a number (set by cli_shard_select); 0 = not given */
    long long k, n;     /* the result: score ids with FNV-1a-64(id) mod n == k */
    int from_env;       /* 1 when k/n came from the scheduler's variables */
} cli_shard;

/* Decide s->k and s->n (printing where they came from when the environment chose them) and
 * expand {shard}/{shards} in *out and *csv (the expansions live until the process ends).
 * 1 = go on; 0 = a usage error, already printed. */
int cli_shard_select(const char *cmd, cli_shard *s, const char **out, const char **csv);

#endif
