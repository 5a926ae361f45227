/*
 * vigie-gateway report: each region's state as of a date, from the store
 * alone (no broker, no running gateway).  Separate from gateway.h: the
 * offline command needs nothing of the daemon.
 */
#ifndef VIGIE_GW_REPORT_H
#define VIGIE_GW_REPORT_H

/* argv[0] is "report"; returns the process's exit status. */
int gw_report_main(int argc, char **argv);

#endif
