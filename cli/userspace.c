/*
 * The "[USERSPACE] portid=N progname=NAME" that conntrack 1.4.7 appends to an event a
 * process caused: the process is found as conntrack finds it, through the netlink socket
 * table of the namespace (the socket's inode) and the processes' open files.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrack.h"

#define NETLINK_NETFILTER_PROTO 12

/* The name in /proc/PID/stat (malloc'ed), or NULL. */
static char *pid_name(unsigned long pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%lu/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char name[256];
    int got = fscanf(f, "%*u (%255[^)]", name);
    fclose(f);
    return got == 1 ? strdup(name) : NULL;
}

/* PID's name when it holds the socket with `inode` open, else NULL. */
static char *holder_name(unsigned long pid, unsigned long inode) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%lu/fd", pid);
    DIR *d = opendir(path);
    if (!d) return NULL;
    char *name = NULL;
    struct dirent *ent;
    while (!name && (ent = readdir(d)) != NULL) {
        if (ent->d_type != DT_LNK) continue;
        char link[300], target[128];
        snprintf(link, sizeof link, "/proc/%lu/fd/%s", pid, ent->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        unsigned long ino;
        if (sscanf(target, "socket:[%lu]", &ino) == 1 && ino == inode) name = pid_name(pid);
    }
    closedir(d);
    return name;
}

/* Whether process `pid` is in the namespace whose file is `ns`. */
static bool in_netns(unsigned long pid, const struct stat *ns) {
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%lu/ns/net", pid);
    return stat(path, &st) == 0 && st.st_dev == ns->st_dev && st.st_ino == ns->st_ino;
}

/* The netlink table of the namespace the events come from: ours without --netns; with it,
 * the table as a process in that namespace sees it (the sender itself when its port id is
 * its process id, as for most netlink users' first socket, else any). */
static bool table_path(uint32_t portid, const char *netns, char *path, size_t len) {
    if (!netns) {
        snprintf(path, len, "/proc/self/net/netlink");
        return true;
    }
    char want[4096];
    if (strchr(netns, '/')) snprintf(want, sizeof want, "%s", netns);
    else snprintf(want, sizeof want, "/run/netns/%s", netns);
    struct stat ns;
    if (stat(want, &ns) != 0) return false;
    unsigned long found = in_netns(portid, &ns) ? portid : 0;
    DIR *d = found ? NULL : opendir("/proc");
    struct dirent *ent;
    while (d && !found && (ent = readdir(d)) != NULL) {
        char *end;
        unsigned long pid = strtoul(ent->d_name, &end, 10);
        if (ent->d_type == DT_DIR && !*end && pid > 1 && in_netns(pid, &ns)) found = pid;
    }
    if (d) closedir(d);
    if (!found) return false;
    snprintf(path, len, "/proc/%lu/net/netlink", found);
    return true;
}

const char *sender_name(uint32_t portid, const char *netns) {
    static uint32_t last_portid;
    static unsigned long last_inode;
    static char *last_name;
    char path[128];
    if (!table_path(portid, netns, path, sizeof path)) return NULL;
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[256];
    unsigned long inode = 0;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        int proto;
        unsigned port;
        unsigned long ino;
        if (sscanf(line, "%*x %d %u %*x %*d %*d %*x %*d %*u %lu", &proto, &port, &ino) == 3 &&
            proto == NETLINK_NETFILTER_PROTO && port == portid) {
            inode = ino;
            found = true;
        }
    }
    fclose(f);
    if (!found) return NULL;
    if (last_name && last_portid == portid && last_inode == inode) return last_name;
    char *name = holder_name(portid, inode);
    if (!name) {
        /* Not the process of that number: search every process, as conntrack does. */
        DIR *d = opendir("/proc");
        struct dirent *ent;
        while (d && !name && (ent = readdir(d)) != NULL) {
            char *end;
            unsigned long pid = strtoul(ent->d_name, &end, 10);
            if (ent->d_type != DT_DIR || *end || pid <= 1 || pid == portid) continue;
            name = holder_name(pid, inode);
        }
        if (d) closedir(d);
    }
    free(last_name);
    last_name = name;
    last_portid = portid;
    last_inode = inode;
    return name;
}
