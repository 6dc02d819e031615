/* rss-run OUT ERR PROG ARGS...: runs PROG with stdout/stderr to OUT/ERR and
 * prints its peak resident set size in KiB.  A small launcher, so that the
 * child's peak is not inflated by a large parent's (Linux carries the
 * forking process' RSS into the child's ru_maxrss). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  struct rusage ru;
  int status;
  pid_t pid;

  if (argc < 4)
    return 2;
  pid = fork ();
  if (pid == 0)
    {
      int out = open (argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open (argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0)
        _exit (127);
      dup2 (out, 1);
      dup2 (err, 2);
      execvp (argv[3], argv + 3);
      _exit (127);
    }
  if (pid < 0 || wait4 (pid, &status, 0, &ru) < 0)
    return 2;
  printf ("%ld\n", ru.ru_maxrss);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 1;
}
