#!/bin/sh
# ci/sim/snmp-outlet.sh DIR -g|-n|-s OID [TYPE VALUE] - snmpd "pass" handler simulating an APC
# PDU's outlet table (PowerNet sPDUOutletCtl.N: write 1 = on, 2 = off; read 1 = on, 2 = off).
#
# Per outlet N, in DIR: outletN holds the state; if DIR/outletN.on / .off exist they run on each
# switch (the simulated bench starts and stops QEMU there); if DIR/outletN.status exists, its
# output (1 or 2) is the state, so a read-back tells the truth about the "board", not the relay.
# snmpd.conf:  pass .1.3.6.1.4.1.318.1.1.4.4.2.1.3 /bin/sh ci/sim/snmp-outlet.sh DIR
DIR=$1; shift
BASE=.1.3.6.1.4.1.318.1.1.4.4.2.1.3
n=${2##*.}
[ "$2" = "$BASE.$n" ] || exit 0
case "$1" in
-g) if [ -x "$DIR/outlet$n.status" ]; then s=$("$DIR/outlet$n.status"); else s=$(cat "$DIR/outlet$n" 2>/dev/null || echo 2); fi
    printf '%s\ninteger\n%s\n' "$2" "$s" ;;
-n) exit 0 ;;
-s) [ "$3" = integer ] || { echo wrong-type; exit 0; }
    case "$4" in
    1) echo 1 > "$DIR/outlet$n"; [ -x "$DIR/outlet$n.on" ] && "$DIR/outlet$n.on" >>"$DIR/outlet$n.log" 2>&1 ;;
    2) echo 2 > "$DIR/outlet$n"; [ -x "$DIR/outlet$n.off" ] && "$DIR/outlet$n.off" >>"$DIR/outlet$n.log" 2>&1 ;;
    *) echo wrong-value ;;
    esac ;;
esac
exit 0
