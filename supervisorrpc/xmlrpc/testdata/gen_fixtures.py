#!/usr/bin/env python3
"""Writes the XML fixtures in this directory with Python's xmlrpc.client,
the library supervisorctl uses. Run from this directory:

    python3 gen_fixtures.py

Structs are built with their keys in sorted order, the order corral's
encoder writes, so that the responses compare byte for byte.
"""
import datetime
import xmlrpc.client as x

DT = datetime.datetime(2024, 1, 2, 3, 4, 5)

calls = {
    "call_start_process": (("foo", True, 3), "supervisor.startProcess"),
    "call_get_state": ((), "supervisor.getState"),
    "call_read_log": (("web:web_0", -100, 0), "supervisor.readProcessStdoutLog"),
    "call_types": ((
        -2147483648, 2147483647, False, "a<b>&c \"q\" 'é' ☃", 2.5, -0.0, 1e16, 1e-05,
        x.DateTime(DT), x.Binary(b"\x00\x01binary\xff" * 10), [], {},
        [1, ["nested", [True]]], {"a": 1, "b": {"c": [None]}}, None, "",
    ), "test.types"),
    "call_multicall": (([
        {"methodName": "supervisor.getProcessInfo", "params": ["web"]},
        {"methodName": "supervisor.getState", "params": []},
    ],), "system.multicall"),
}

responses = {
    "response_true": True,
    "response_state": {"statecode": 1, "statename": "RUNNING"},
    "response_process_info": [{
        "description": "pid 4242, uptime 0:01:40",
        "exitstatus": 0,
        "group": "web",
        "logfile": "/var/log/web.log",
        "name": "web_0",
        "now": 1700000100,
        "pid": 4242,
        "spawnerr": "",
        "start": 1700000000,
        "state": 20,
        "statename": "RUNNING",
        "stderr_logfile": "",
        "stdout_logfile": "/var/log/web.log",
        "stop": 0,
    }],
    "response_types": {
        "array": [1, "two", 3.0],
        "base64": x.Binary(b"x" * 100),
        "bool": False,
        "datetime": x.DateTime(DT),
        "double": 123456.789,
        "empty": [],
        "int": -7,
        "string": "a<b>&c \"q\" 'é' ☃\n\ttab",
        "struct": {},
    },
    "response_multicall": [[True], {"faultCode": 10, "faultString": "BAD_NAME: nope"}],
}

faults = {
    "response_fault_bad_name": x.Fault(10, "BAD_NAME: foo"),
    "response_fault_unknown_method": x.Fault(1, "UNKNOWN_METHOD"),
}

def write(name, body):
    with open(name + ".xml", "w", encoding="utf-8", newline="") as f:
        f.write(body)

for name, (params, method) in calls.items():
    write(name, x.dumps(params, method, allow_none=True))
for name, value in responses.items():
    write(name, x.dumps((value,), methodresponse=True))
for name, fault in faults.items():
    write(name, x.dumps(fault))
