#!/bin/sh
# ci/sim/ipmi-chassis.sh DIR DEVICE get power|boot... / set power 0|1 ... - OpenIPMI ipmi_sim's
# chassis_control program for a simulated BMC. The power state lives in DIR/power; DIR/power.on
# and DIR/power.off run on each switch and DIR/power.status (prints 1 or 0), if present, is the
# truth, as with ci/sim/snmp-outlet.sh.
# lan.conf:  chassis_control "/bin/sh ci/sim/ipmi-chassis.sh DIR 0x20"
DIR=$1; shift 2
op=$1; shift
case $op in
get)
    for p in "$@"; do
        case $p in
        power) if [ -x "$DIR/power.status" ]; then s=$("$DIR/power.status"); else s=$(cat "$DIR/power" 2>/dev/null || echo 0); fi
               echo "power:$s" ;;
        boot) echo "boot:default" ;;
        esac
    done ;;
set)
    while [ $# -gt 1 ]; do
        case $1 in
        power) echo "$2" > "$DIR/power"
               if [ "$2" = 1 ]; then h=on; else h=off; fi
               [ -x "$DIR/power.$h" ] && "$DIR/power.$h" >>"$DIR/power.log" 2>&1 ;;
        esac
        shift 2
    done ;;
*) exit 1 ;;
esac
exit 0
