/* jobscript.c — `vs2 slurm` and `vs2 k8s`: write ready-to-submit job files that score a manifest
 * in N shards on a cluster and merge them (docs/scale-out.md).
 *
 * Slurm: DIR/vs2-shards.sbatch (an array job, one task per shard, each running
 * `vs2 batch --shard auto --shards N` into DIR/shard-K-of-N.jsonl), DIR/vs2-final.sbatch (vs2 merge,
 * vs2 metrics, vs2 report) and DIR/submit.sh (submits both, the final one with
 * --dependency=afterok on the array). Kubernetes: one YAML file with an indexed Job
 * (completionMode: Indexed) and a merge Job that waits for every shard's marker file.
 * Every shard writes a file of its own, named by its index, so a re-run of an index resumes it. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KIND_SLURM, KIND_K8S };

typedef struct job {
    int kind;
    const char *cmd;
    const char *manifest, *out_dir, *model, *name;
    long long shards, cpus, parallelism;
    const char *mem;                              /* --mem (Slurm) / --memory (Kubernetes) */
    const char *partition, *time, *account, *gres, *hf_home, *vs2; /* Slurm */
    const char *image, *data_pvc, *data_mount, *hf_pvc, *yaml_out;  /* Kubernetes */
    char **extra;                                 /* vs2 batch options after "--" */
    int n_extra;
    char *abs_manifest, *abs_out, *abs_vs2;       /* owned */
} job;

static void usage(FILE *f, int kind) {
    if (kind == KIND_SLURM)
        fprintf(f,
                "usage: vs2 slurm --manifest IN --shards N --out-dir DIR [options] [-- vs2 batch options]\n\n"
                "Write a Slurm job for scoring the manifest in N shards into DIR (shared storage, the same\n"
                "path on every node): vs2-shards.sbatch (an array job, one task per shard, each resuming its\n"
                "own DIR/shard-K-of-N.jsonl), vs2-final.sbatch (vs2 merge, vs2 metrics, vs2 report) and\n"
                "submit.sh, which submits both with --dependency=afterok. Run DIR/submit.sh.\n\n"
                "  --manifest IN        the manifest (as vs2 batch reads it; made absolute)\n"
                "  --shards N           array tasks = shards (1..100000)\n"
                "  --out-dir DIR        shard outputs, logs/, merged.jsonl, metrics.txt, report.html\n"
                "  -m, --model M        model directory or Hugging Face repo id (default: vs2 batch's)\n"
                "  --hf-home DIR        a shared Hugging Face cache: HF_HOME=DIR and HF_HUB_OFFLINE=1 in the\n"
                "                       jobs (the cache may be read-only; fill it once with vs2 download)\n"
                "  --cpus-per-task C    CPUs per task (default 8); vs2 starts that many threads\n"
                "  --mem SIZE  --time T  --partition P  --account A  --gres G   passed to #SBATCH\n"
                "  --name NAME          job name (default vs2)\n"
                "  --vs2 PATH           the vs2 binary the nodes run (default: this one)\n"
                "  -- OPTIONS...        more vs2 batch options for every task (e.g. --max-new-tokens 256)\n");
    else
        fprintf(f,
                "usage: vs2 k8s --manifest IN --shards N --out-dir DIR [options] [-- vs2 batch options]\n\n"
                "Write a Kubernetes manifest (YAML, to -o FILE or stdout): an indexed Job\n"
                "(completionMode: Indexed) of N pods, each scoring shard JOB_COMPLETION_INDEX of the\n"
                "manifest into DIR/shard-K-of-N.jsonl on a shared volume, and a merge Job that waits for\n"
                "all N shards, then runs vs2 merge, vs2 metrics and vs2 report. Paths are as the pods see\n"
                "them. Apply with kubectl apply -f FILE.\n\n"
                "  --manifest IN        the manifest's path in the pods\n"
                "  --shards N           completions = shards (1..100000)\n"
                "  --out-dir DIR        results in the pods; must be on the data volume\n"
                "  -o, --out FILE       where to write the YAML (default stdout)\n"
                "  -m, --model M        model directory or repo id (default: vs2 batch's)\n"
                "  --image IMAGE        a container image with vs2 on its PATH (default vs2:latest)\n"
                "  --data-pvc NAME      ReadWriteMany claim with manifest, videos and results (default vs2-data)\n"
                "  --data-mount PATH    where it is mounted (default /data)\n"
                "  --hf-pvc NAME        a claim holding a Hugging Face cache, mounted read-only at /hf with\n"
                "                       HF_HOME=/hf and HF_HUB_OFFLINE=1 (default: none)\n"
                "  --cpus C             CPU request and limit per pod (default 8); vs2 starts that many threads\n"
                "  --memory SIZE        memory request and limit per pod (default 24Gi)\n"
                "  --parallelism P      pods at once (default N)\n"
                "  --name NAME          Job name prefix, lowercase letters, digits, '-' (default vs2)\n"
                "  -- OPTIONS...        more vs2 batch options for every shard\n");
}

/* ---- quoting --------------------------------------------------------------------------------- */

/* s as one single-quoted shell word. */
static void sh_word(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

/* Text safe inside a YAML block scalar and a shell script: no control characters, no newlines. */
static int plain_text(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

/* ---- checks ------------------------------------------------------------------------------------ */

static int dns_label(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 40 || s[0] == '-' || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return 0;
    return 1;
}

static int mkdir_p(const char *path) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return errno = ENAMETOOLONG, 0;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return 0;
            *p = '/';
        }
    return mkdir(buf, 0777) == 0 || errno == EEXIST;
}

/* Options of vs2 batch that the job files set themselves. */
static int check_extra(const job *j) {
    static const char *const owned[] = {"--manifest", "--out", "-o", "--shard", "--shards", "--csv", "--dry-run", NULL};
    for (int i = 0; i < j->n_extra; i++) {
        for (int k = 0; owned[k]; k++)
            if (!strcmp(j->extra[i], owned[k])) {
                fprintf(stderr, "%s: %s after -- : the job sets it (give --manifest/--shards/--out-dir before --)\n",
                        j->cmd, owned[k]);
                return 0;
            }
        if (!plain_text(j->extra[i])) {
            fprintf(stderr, "%s: an option after -- holds a control character\n", j->cmd);
            return 0;
        }
    }
    return 1;
}

/* 1 when a vs2 merge option (the manifest's format) is among the extra options; copies them. */
static void merge_format_opts(FILE *f, const job *j) {
    for (int i = 0; i < j->n_extra; i++) {
        const char *a = j->extra[i];
        if (!strcmp(a, "--reference-quirks") || !strcmp(a, "--groups")) fprintf(f, " %s", a);
        else if (!strcmp(a, "--format") && i + 1 < j->n_extra) {
            fputs(" --format ", f);
            sh_word(f, j->extra[++i]);
        }
    }
}

/* ---- the shared shell fragments ----------------------------------------------------------------- */

/* The vs2 batch command of one shard (K from the scheduler's variables). */
static void put_batch_cmd(FILE *f, const job *j, const char *vs2, const char *indent) {
    fprintf(f, "%s", indent);
    sh_word(f, vs2);
    fputs(" batch --manifest ", f);
    sh_word(f, j->abs_manifest);
    fprintf(f, " \\\n%s    --shard auto --shards %lld --out ", indent, j->shards);
    sh_word(f, j->abs_out);
    fputs("'/shard-{shard}-of-{shards}.jsonl'", f);
    if (j->model) {
        fputs(" --model ", f);
        sh_word(f, j->model);
    }
    if (j->n_extra) fprintf(f, " \\\n%s   ", indent);
    for (int i = 0; i < j->n_extra; i++) {
        fputc(' ', f);
        sh_word(f, j->extra[i]);
    }
    fputs(" || rc=$?\n", f);
}

/* After vs2 batch: exit status 3 (finished; some items are error lines) is a finished shard. */
static void put_batch_status(FILE *f, const char *indent) {
    fprintf(f,
            "%sif [ \"$rc\" -eq 3 ]; then\n"
            "%s    echo \"vs2 batch: the shard is finished; some items are error lines (vs2 merge and vs2 metrics count them)\"\n"
            "%s    rc=0\n"
            "%sfi\n",
            indent, indent, indent, indent);
}

/* Merge, metrics, report: the final step of both kinds. */
static void put_final(FILE *f, const job *j, const char *vs2, const char *indent) {
    fprintf(f, "%sOUT=", indent);
    sh_word(f, j->abs_out);
    fprintf(f,
            "\n%sset --\n"
            "%sk=0\n"
            "%swhile [ \"$k\" -lt %lld ]; do set -- \"$@\" \"$OUT/shard-$k-of-%lld.jsonl\"; k=$((k + 1)); done\n",
            indent, indent, indent, j->shards, j->shards);
    fprintf(f, "%s", indent);
    sh_word(f, vs2);
    fputs(" merge --manifest ", f);
    sh_word(f, j->abs_manifest);
    merge_format_opts(f, j);
    fprintf(f, " --out \"$OUT/merged.jsonl\" \"$@\" || {\n"
               "%s    echo \"vs2 merge failed (exit $?): a shard is missing ids or repeats some; nothing merged\" >&2\n"
               "%s    exit 1\n"
               "%s}\n", indent, indent, indent);
    fprintf(f, "%s", indent);
    sh_word(f, vs2);
    fprintf(f, " metrics \"$OUT/merged.jsonl\" > \"$OUT/metrics.txt\" ||\n"
               "%s    echo \"vs2 metrics failed (exit $?): no metrics (no human scores in the manifest, or no scored items?)\" >&2\n",
            indent);
    fprintf(f, "%s", indent);
    sh_word(f, vs2);
    fprintf(f, " report \"$OUT/merged.jsonl\" --html \"$OUT/report.html\" || exit 1\n"
               "%secho \"merged: $OUT/merged.jsonl, metrics: $OUT/metrics.txt, report: $OUT/report.html\"\n",
            indent);
}

/* ---- Slurm -------------------------------------------------------------------------------------- */

static FILE *open_out(const job *j, const char *path, int exec) {
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "%s: cannot write %s: %s\n", j->cmd, path, strerror(errno));
    else if (exec) chmod(path, 0755);
    return f;
}

static int close_out(const job *j, FILE *f, const char *path) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "%s: cannot write %s: %s\n", j->cmd, path, strerror(errno));
        return 0;
    }
    return 1;
}

static void sbatch_opt(FILE *f, const char *name, const char *v) {
    if (v) fprintf(f, "#SBATCH --%s=%s\n", name, v);
}

static void put_env(FILE *f, const job *j) {
    if (!j->hf_home) return;
    fputs("# The model from a shared Hugging Face cache (read-only is fine): never the network.\nexport HF_HOME=", f);
    sh_word(f, j->hf_home);
    fputs("\nexport HF_HUB_OFFLINE=1\n", f);
}

static int write_shards_sbatch(const job *j, const char *path) {
    FILE *f = open_out(j, path, 1);
    if (!f) return 0;
    fprintf(f, "#!/bin/sh\n"
               "# Generated by `vs2 slurm` (vs2 %s): one array task per shard of\n# %s\n"
               "# Each task scores its shard into shard-K-of-%lld.jsonl; a re-run task (requeue, or\n"
               "# `sbatch --array=K` of this file) resumes that file. docs/scale-out.md\n",
            vs2_version(), j->abs_manifest, j->shards);
    fprintf(f, "#SBATCH --job-name=%s\n#SBATCH --array=0-%lld\n#SBATCH --cpus-per-task=%lld\n", j->name,
            j->shards - 1, j->cpus);
    fprintf(f, "#SBATCH --requeue\n#SBATCH --open-mode=append\n#SBATCH --output=%s/logs/shard-%%a.log\n", j->abs_out);
    sbatch_opt(f, "mem", j->mem);
    sbatch_opt(f, "time", j->time);
    sbatch_opt(f, "partition", j->partition);
    sbatch_opt(f, "account", j->account);
    sbatch_opt(f, "gres", j->gres);
    fputs("set -u\n", f);
    put_env(f, j);
    fputs("echo \"vs2 shard task: array task ${SLURM_ARRAY_TASK_ID} on $(hostname), restart ${SLURM_RESTART_COUNT:-0}\"\n"
          "rc=0\n", f);
    put_batch_cmd(f, j, j->abs_vs2, "");
    put_batch_status(f, "");
    fputs("exit \"$rc\"\n", f);
    return close_out(j, f, path);
}

static int write_final_sbatch(const job *j, const char *path) {
    FILE *f = open_out(j, path, 1);
    if (!f) return 0;
    fprintf(f, "#!/bin/sh\n"
               "# Generated by `vs2 slurm` (vs2 %s): after every shard task, merge the shards (refusing\n"
               "# duplicate ids, failing on gaps), then vs2 metrics and vs2 report on the merged file.\n",
            vs2_version());
    fprintf(f, "#SBATCH --job-name=%s-final\n#SBATCH --cpus-per-task=1\n#SBATCH --output=%s/logs/final.log\n",
            j->name, j->abs_out);
    sbatch_opt(f, "time", j->time);
    sbatch_opt(f, "partition", j->partition);
    sbatch_opt(f, "account", j->account);
    fputs("set -u\n", f);
    put_final(f, j, j->abs_vs2, "");
    return close_out(j, f, path);
}

static int write_submit(const job *j, const char *path) {
    FILE *f = open_out(j, path, 1);
    if (!f) return 0;
    fprintf(f, "#!/bin/sh\n"
               "# Generated by `vs2 slurm` (vs2 %s).\n"
               "#   ./submit.sh               submit the array job and the final job (afterok on the array)\n"
               "#   ./submit.sh final JOBID   submit only the final job, after the tasks of array JOBID that\n"
               "#                             are still queued or running (none: at once). The way back after\n"
               "#                             `scancel JOBID_K`: Slurm never satisfies afterok:JOBID once a task\n"
               "#                             was cancelled, even when it is requeued (scontrol requeue JOBID_K).\n"
               "set -eu\nDIR=",
            vs2_version());
    sh_word(f, j->abs_out);
    fputs("\n"
          "if [ \"${1:-}\" = final ]; then\n"
          "    [ -n \"${2:-}\" ] || { echo \"usage: $0 final JOBID\" >&2; exit 2; }\n"
          "    dep=\n"
          "    for t in $(squeue -h -r -j \"$2\" -o %i); do dep=\"${dep:-afterok}:$t\"; done\n"
          "    F=$(sbatch --parsable ${dep:+--dependency=$dep} \"$DIR/vs2-final.sbatch\")\n"
          "    echo \"final job ${F%%;*}${dep:+ ($dep)}\"\n"
          "    exit 0\n"
          "fi\n"
          "J=$(sbatch --parsable \"$DIR/vs2-shards.sbatch\")\n"
          "J=${J%%;*}\n"
          "F=$(sbatch --parsable --dependency=afterok:\"$J\" \"$DIR/vs2-final.sbatch\")\n",
          f);
    fprintf(f, "echo \"array job $J (%lld tasks), final job ${F%%%%;*}; logs in $DIR/logs\"\n", j->shards);
    return close_out(j, f, path);
}

static int run_slurm(job *j) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/logs", j->out_dir);
    if (!mkdir_p(path)) {
        fprintf(stderr, "%s: cannot create %s: %s\n", j->cmd, path, strerror(errno));
        return 1;
    }
    j->abs_out = realpath(j->out_dir, NULL);
    j->abs_manifest = realpath(j->manifest, NULL);
    if (!j->abs_manifest) {
        fprintf(stderr, "%s: %s: %s\n", j->cmd, j->manifest, strerror(errno));
        return 1;
    }
    if (!j->abs_out || !plain_text(j->abs_out) || !plain_text(j->abs_manifest)) {
        fprintf(stderr, "%s: the paths must be plain text (no control characters)\n", j->cmd);
        return 1;
    }
    if (!j->vs2) j->abs_vs2 = realpath("/proc/self/exe", NULL);
    if (!j->vs2 && !j->abs_vs2) {
        fprintf(stderr, "%s: cannot find this vs2 binary: give --vs2 PATH\n", j->cmd);
        return 1;
    }
    if (j->vs2) j->abs_vs2 = strdup(j->vs2);
    if (!j->abs_vs2) return 1;
    static const char *const files[] = {"vs2-shards.sbatch", "vs2-final.sbatch", "submit.sh"};
    int (*const writers[])(const job *, const char *) = {write_shards_sbatch, write_final_sbatch, write_submit};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", j->abs_out, files[i]);
        if (!writers[i](j, path)) return 1;
    }
    printf("%s/submit.sh\n", j->abs_out);
    fprintf(stderr, "%s: wrote vs2-shards.sbatch (%lld array tasks), vs2-final.sbatch and submit.sh in %s; run %s/submit.sh\n",
            j->cmd, j->shards, j->abs_out, j->abs_out);
    return 0;
}

/* ---- Kubernetes ------------------------------------------------------------------------------------ */

static void yaml_str(FILE *f, const char *s) { cli_json_string(f, s, strlen(s)); } /* JSON strings are YAML */

static void put_volumes(FILE *f, const job *j, int hf) {
    fputs("      volumes:\n        - name: data\n          persistentVolumeClaim:\n            claimName: ", f);
    yaml_str(f, j->data_pvc);
    if (hf && j->hf_pvc) {
        fputs("\n        - name: hf-cache\n          persistentVolumeClaim:\n            claimName: ", f);
        yaml_str(f, j->hf_pvc);
        fputs("\n            readOnly: true", f);
    }
    fputs("\n        - name: vs2-cache\n          emptyDir: {}\n", f);
}

static void put_mounts(FILE *f, const job *j, const char *ind) {
    fprintf(f, "%svolumeMounts:\n%s  - name: data\n%s    mountPath: ", ind, ind, ind);
    yaml_str(f, j->data_mount);
    if (j->hf_pvc) fprintf(f, "\n%s  - name: hf-cache\n%s    mountPath: /hf\n%s    readOnly: true", ind, ind, ind);
    fprintf(f, "\n%s  - name: vs2-cache\n%s    mountPath: /vs2-cache\n", ind, ind);
}

static void put_container_env(FILE *f, const job *j, const char *ind) {
    fprintf(f, "%senv:\n%s  - name: VS2_SHARDS\n%s    value: \"%lld\"\n", ind, ind, ind, j->shards);
    fprintf(f, "%s  - name: VS2_WEIGHT_CACHE\n%s    value: /vs2-cache\n", ind, ind);
    if (j->hf_pvc)
        fprintf(f, "%s  - name: HF_HOME\n%s    value: /hf\n%s  - name: HF_HUB_OFFLINE\n%s    value: \"1\"\n", ind, ind,
                ind, ind);
}

static void put_resources(FILE *f, const job *j, const char *ind, long long cpus, const char *mem) {
    fprintf(f, "%sresources:\n", ind);
    for (int i = 0; i < 2; i++) {
        fprintf(f, "%s  %s:\n%s    cpu: \"%lld\"\n%s    memory: ", ind, i ? "limits" : "requests", ind, cpus, ind);
        yaml_str(f, mem);
        fputc('\n', f);
    }
    (void)j;
}

static void put_metadata(FILE *f, const job *j, const char *suffix) {
    fprintf(f, "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: %s-%s\n  labels:\n    app: vs2\n    vs2-run: %s\n",
            j->name, suffix, j->name);
}

static void write_k8s(FILE *f, const job *j) {
    fprintf(f, "# Generated by `vs2 k8s` (vs2 %s): score the manifest %s in %lld shards\n"
               "# (an indexed Job, one pod per shard), then merge (a Job that waits for every shard).\n"
               "# Apply: kubectl apply -f THIS_FILE   docs/scale-out.md\n",
            vs2_version(), j->abs_manifest, j->shards);
    put_metadata(f, j, "shards");
    fprintf(f, "spec:\n  completionMode: Indexed\n  completions: %lld\n  parallelism: %lld\n", j->shards,
            j->parallelism);
    fprintf(f, "  # retries over all indices together; a retried index resumes its shard's file\n"
               "  backoffLimit: %lld\n", j->shards * 3 < 1000 ? j->shards * 3 : 1000);
    fprintf(f, "  template:\n    metadata:\n      labels:\n        app: vs2\n        vs2-run: %s\n", j->name);
    fputs("    spec:\n      restartPolicy: OnFailure\n      containers:\n        - name: vs2\n          image: ", f);
    yaml_str(f, j->image);
    fputs("\n          command: [\"sh\", \"-c\"]\n          args:\n            - |\n", f);
    const char *ind = "              ";
    fprintf(f, "%sset -u\n%secho \"vs2 shard pod: index $JOB_COMPLETION_INDEX of $VS2_SHARDS on $(hostname)\"\n%smkdir -p ",
            ind, ind, ind);
    sh_word(f, j->abs_out);
    fprintf(f, " || exit 1\n%src=0\n", ind);
    put_batch_cmd(f, j, "vs2", ind);
    put_batch_status(f, ind);
    fprintf(f, "%sif [ \"$rc\" -eq 0 ]; then touch ", ind);
    sh_word(f, j->abs_out);
    fprintf(f, "\"/shard-$JOB_COMPLETION_INDEX-of-%lld.done\"; fi\n%sexit \"$rc\"\n", j->shards, ind);
    put_container_env(f, j, "          ");
    put_resources(f, j, "          ", j->cpus, j->mem);
    put_mounts(f, j, "          ");
    put_volumes(f, j, 1);

    fputs("---\n", f);
    put_metadata(f, j, "merge");
    fprintf(f, "spec:\n  backoffLimit: 3\n  template:\n    metadata:\n      labels:\n        app: vs2\n        vs2-run: %s\n",
            j->name);
    fputs("    spec:\n      restartPolicy: OnFailure\n      initContainers:\n        - name: wait-for-shards\n          image: ", f);
    yaml_str(f, j->image);
    fputs("\n          command: [\"sh\", \"-c\"]\n          args:\n            - |\n", f);
    fprintf(f, "%sOUT=", ind);
    sh_word(f, j->abs_out);
    fprintf(f, "\n%swhile :; do\n"
               "%s    n=0; k=0\n"
               "%s    while [ \"$k\" -lt %lld ]; do [ -e \"$OUT/shard-$k-of-%lld.done\" ] && n=$((n + 1)); k=$((k + 1)); done\n"
               "%s    [ \"$n\" -eq %lld ] && break\n"
               "%s    echo \"waiting for the shards: $n of %lld done\"; sleep 20\n"
               "%sdone\n",
            ind, ind, ind, j->shards, j->shards, ind, j->shards, ind, j->shards, ind);
    put_mounts(f, j, "          ");
    fputs("      containers:\n        - name: merge\n          image: ", f);
    yaml_str(f, j->image);
    fputs("\n          command: [\"sh\", \"-c\"]\n          args:\n            - |\n", f);
    fprintf(f, "%sset -u\n", ind);
    put_final(f, j, "vs2", ind);
    put_resources(f, j, "          ", 1, "2Gi");
    put_mounts(f, j, "          ");
    put_volumes(f, j, 1);
}

static int run_k8s(job *j) {
    if (j->manifest[0] != '/' || j->out_dir[0] != '/') {
        fprintf(stderr, "%s: --manifest and --out-dir are paths in the pods: give absolute paths\n", j->cmd);
        return 2;
    }
    size_t m = strlen(j->data_mount);
    while (m > 1 && j->data_mount[m - 1] == '/') m--;
    if (j->data_mount[0] != '/' || strncmp(j->out_dir, j->data_mount, m) || (j->out_dir[m] != '/' && j->out_dir[m])) {
        fprintf(stderr, "%s: --out-dir %s is not on the data volume (mounted at %s): the merge pod could not see it\n",
                j->cmd, j->out_dir, j->data_mount);
        return 2;
    }
    if (!plain_text(j->manifest) || !plain_text(j->out_dir) || !plain_text(j->image) || !plain_text(j->data_pvc) ||
        (j->hf_pvc && !plain_text(j->hf_pvc)) || !plain_text(j->mem) || (j->model && !plain_text(j->model))) {
        fprintf(stderr, "%s: the values must be plain text (no control characters)\n", j->cmd);
        return 2;
    }
    j->abs_manifest = strdup(j->manifest);
    j->abs_out = strdup(j->out_dir);
    if (!j->abs_manifest || !j->abs_out) return 1;
    size_t n = strlen(j->abs_out);
    while (n > 1 && j->abs_out[n - 1] == '/') j->abs_out[--n] = '\0';
    FILE *f = j->yaml_out && strcmp(j->yaml_out, "-") ? open_out(j, j->yaml_out, 0) : stdout;
    if (!f) return 1;
    write_k8s(f, j);
    if (f == stdout) return fflush(stdout) == 0 ? 0 : 1;
    if (!close_out(j, f, j->yaml_out)) return 1;
    fprintf(stderr, "%s: wrote %s: Jobs %s-shards (%lld indexed pods) and %s-merge; kubectl apply -f %s\n", j->cmd,
            j->yaml_out, j->name, j->shards, j->name, j->yaml_out);
    return 0;
}

/* ---- arguments ------------------------------------------------------------------------------------ */

static int parse_count(const job *j, const char *opt, const char *v, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < 1 || x > hi) {
        fprintf(stderr, "%s: %s: expected a whole number 1..%lld, got '%s'\n", j->cmd, opt, hi, v);
        return 0;
    }
    *out = x;
    return 1;
}

/* The value options: name, where it goes. */
static const char **value_slot(job *j, const char *a) {
    struct { const char *name; const char **slot; int kind; } t[] = {
        {"--manifest", &j->manifest, -1}, {"--out-dir", &j->out_dir, -1}, {"--model", &j->model, -1},
        {"--name", &j->name, -1},         {"--partition", &j->partition, KIND_SLURM},
        {"--time", &j->time, KIND_SLURM}, {"--account", &j->account, KIND_SLURM}, {"--gres", &j->gres, KIND_SLURM},
        {"--hf-home", &j->hf_home, KIND_SLURM}, {"--vs2", &j->vs2, KIND_SLURM}, {"--mem", &j->mem, KIND_SLURM},
        {"--memory", &j->mem, KIND_K8S},  {"--image", &j->image, KIND_K8S}, {"--data-pvc", &j->data_pvc, KIND_K8S},
        {"--data-mount", &j->data_mount, KIND_K8S}, {"--hf-pvc", &j->hf_pvc, KIND_K8S},
        {"--out", &j->yaml_out, KIND_K8S},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (!strcmp(a, t[i].name) && (t[i].kind < 0 || t[i].kind == j->kind)) return t[i].slot;
    return NULL;
}

static int parse_args(job *j, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = cli_alias(argv[i]);
        if (!strcmp(a, "--")) {
            j->extra = argv + i + 1;
            j->n_extra = argc - i - 1;
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, j->kind);
            return 0;
        }
        const char **slot = value_slot(j, a);
        int count = !strcmp(a, "--shards") || !strcmp(a, "--parallelism") ||
                    !strcmp(a, j->kind == KIND_SLURM ? "--cpus-per-task" : "--cpus");
        if (!slot && !count) {
            fprintf(stderr, "%s: unknown option '%s' (see %s --help)\n", j->cmd, argv[i], j->cmd);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", j->cmd, a);
            return 2;
        }
        const char *v = argv[++i];
        if (slot) *slot = v;
        else if (!parse_count(j, a, v, 100000,
                              !strcmp(a, "--shards") ? &j->shards : !strcmp(a, "--parallelism") ? &j->parallelism : &j->cpus))
            return 2;
    }
    if (!j->manifest || !j->shards || !j->out_dir) {
        fprintf(stderr, "%s: --manifest, --shards and --out-dir are required (see %s --help)\n", j->cmd, j->cmd);
        return 2;
    }
    if (!dns_label(j->name)) {
        fprintf(stderr, "%s: --name: 1..40 lowercase letters, digits and '-', not at either end; got '%s'\n", j->cmd,
                j->name);
        return 2;
    }
    if (j->parallelism > j->shards) j->parallelism = j->shards;
    if (!j->parallelism) j->parallelism = j->shards;
    return check_extra(j) ? -1 : 2;
}

static int cmd_jobscript(int kind, int argc, char **argv) {
    job j;
    memset(&j, 0, sizeof j);
    j.kind = kind;
    j.cmd = kind == KIND_SLURM ? "vs2 slurm" : "vs2 k8s";
    j.name = "vs2";
    j.cpus = 8;
    j.image = "vs2:latest";
    j.data_pvc = "vs2-data";
    j.data_mount = "/data";
    if (kind == KIND_K8S) j.mem = "24Gi";
    int rc = parse_args(&j, argc, argv);
    if (rc < 0) rc = kind == KIND_SLURM ? run_slurm(&j) : run_k8s(&j);
    free(j.abs_manifest);
    free(j.abs_out);
    free(j.abs_vs2);
    return rc;
}

int cmd_slurm(int argc, char **argv) { return cmd_jobscript(KIND_SLURM, argc, argv); }
int cmd_k8s(int argc, char **argv) { return cmd_jobscript(KIND_K8S, argc, argv); }
