# Shared by start.sh and stop.sh (sourced, not run).

# alive PID: the process exists and is not a zombie. (On the CI VM, PID 1
# reaps orphans only every second or two, so an exited daemon lingers as a
# zombie that `kill -0` still reports as alive.)
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"                  # drop "pid (comm) "
    [ -n "$stat" ] && [ "${stat%% *}" != Z ]
}
