"""OVS-DPDK (ovs-vswitchd with the userspace datapath) as an interop peer,
in its own network namespace with its own database, run and log directory.

OvsDpdk(ns, tmp, prefix) starts ovsdb-server and ovs-vswitchd-dpdk (DPDK
file prefix `prefix`, 512 MB of hugepages, PMD on core 1); vsctl(), ofctl()
and appctl() talk to it; stop() ends both (by their own process handles)
and returns the vswitchd log's tail. Needs root and openvswitch-switch-dpdk.
"""
import os
import subprocess
import time

from checks import run

OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


class OvsDpdk:
    def __init__(self, ns, tmp, prefix, pmd_mask="0x2"):
        self.ns, self.dir = ns, tmp
        self.env = dict(os.environ, OVS_RUNDIR=tmp, OVS_LOGDIR=tmp, OVS_DBDIR=tmp)
        self.procs = []
        run(["ovsdb-tool", "create", tmp + "/conf.db", OVS_SCHEMA])
        self.spawn(["ovsdb-server", "--remote=punix:%s/db.sock" % tmp, tmp + "/conf.db",
                    "--unixctl=%s/ovsdb.ctl" % tmp, "--log-file=%s/ovsdb.log" % tmp])
        self.wait(tmp + "/db.sock")
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                   'other_config:dpdk-extra="--no-pci --file-prefix %s"' % prefix,
                   "other_config:dpdk-socket-mem=512", "other_config:dpdk-socket-limit=1024",
                   "other_config:pmd-cpu-mask=" + pmd_mask, "other_config:dpdk-lcore-mask=0x1")
        self.spawn([OVS_VSWITCHD, "unix:%s/db.sock" % tmp, "--unixctl=%s/vswitchd.ctl" % tmp,
                    "--log-file=%s/vswitchd.log" % tmp])
        self.wait(tmp + "/vswitchd.ctl", 60)

    def spawn(self, cmd):
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", self.ns] + cmd, env=self.env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    @staticmethod
    def wait(path, timeout=20):
        deadline = time.time() + timeout
        while not os.path.exists(path):
            if time.time() > deadline:
                raise RuntimeError("timeout waiting for " + path)
            time.sleep(0.1)

    def vsctl(self, *args):
        return run(["ovs-vsctl", "--db=unix:%s/db.sock" % self.dir, "--timeout=60"] + list(args)).stdout

    def ofctl(self, cmd, bridge, *args):
        return run(["ovs-ofctl", "-O", "OpenFlow13", cmd, "unix:%s/%s.mgmt" % (self.dir, bridge)] + list(args)).stdout

    def appctl(self, *args):
        r = subprocess.run(["ovs-appctl", "-t", "%s/vswitchd.ctl" % self.dir] + list(args), env=self.env,
                           capture_output=True, text=True)
        return r.stdout + r.stderr

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        try:
            return open(self.dir + "/vswitchd.log").read()[-3000:]
        except OSError:
            return ""
