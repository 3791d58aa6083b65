"""The master daemon, run in process with a probe service."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from mailflow.adapters.kick import kick
from mailflow.errors import ConfigError
from mailflow.services import master as master_mod
from mailflow.services.master import (QUEUE_DIRECTORIES, Master, pid_file_path, read_pid,
                                      running_pid)


def qdir_of(config_dir) -> str:
    return str(config_dir.parent / "spool")


def test_pid_file_names_the_master_while_it_runs(mf_config, probe, run_master):
    """master.pid holds the running master's pid and is gone after stop."""
    seen = {}

    async def body(master):
        seen["pid"] = read_pid(qdir_of(mf_config))
        seen["running"] = running_pid(qdir_of(mf_config))
    run_master(mf_config, body)
    assert seen == {"pid": os.getpid(), "running": os.getpid()}
    assert not os.path.exists(pid_file_path(qdir_of(mf_config)))


def test_missing_queue_directories_are_created(mf_config, probe, run_master):
    """Starting creates every spool directory that is missing."""
    async def body(master):
        pass
    run_master(mf_config, body)
    assert sorted(os.listdir(qdir_of(mf_config))) == sorted(QUEUE_DIRECTORIES)


def test_second_master_is_refused_while_the_first_runs(mf_config, probe, run_master):
    """A second master on the same spool fails: the pid file is locked."""
    async def body(master):
        with pytest.raises(RuntimeError, match="already running"):
            await Master(str(mf_config), install_signals=False).run()
    run_master(mf_config, body)


def test_bad_main_cf_fails_before_anything_starts(mf_config, probe):
    """A bad value stops the start with the file:line message, and no pid file is left."""
    (mf_config / "main.cf").write_text(
        f"queue_directory = {qdir_of(mf_config)}\nmessage_size_limit = banana\n")
    with pytest.raises(ConfigError, match=r"main.cf, line 2: message_size_limit = banana"):
        asyncio.run(Master(str(mf_config), install_signals=False).run())
    assert probe.instances == []
    assert not os.path.exists(pid_file_path(qdir_of(mf_config)))


def test_service_that_cannot_start_fails_the_start(mf_config, probe):
    """A service whose start raises makes the master's start fail with its name."""
    (mf_config / "master.cf").write_text(
        "probe unix n - n - 1 probe -o probe_fail_start=yes\n")
    with pytest.raises(RuntimeError, match="service probe: cannot start: probe refuses"):
        asyncio.run(Master(str(mf_config), install_signals=False).run())
    assert not os.path.exists(pid_file_path(qdir_of(mf_config)))


def test_service_gets_its_o_overrides_and_maxproc(mf_config, probe, run_master):
    """-o overrides apply to the service's Config only; maxproc is its concurrency bound."""
    (mf_config / "master.cf").write_text(
        "probe unix n - n - 7 probe -o myhostname=probe.example.test\n")
    seen = {}

    async def body(master):
        ctx = probe.instances[0].ctx
        seen.update(host=ctx.config.myhostname, maxproc=ctx.maxproc,
                    main=master.cfg.myhostname)
    run_master(mf_config, body)
    assert seen == {"host": "probe.example.test", "maxproc": 7, "main": "mx.example.test"}


def test_kick_reaches_the_service_wake(mf_config, probe, run_master, until):
    """A request written to public/<service> arrives at service.wake."""
    async def body(master):
        assert kick(qdir_of(mf_config), "probe", b"I")
        await until(lambda: probe.instances[0].wakes)
        assert probe.instances[0].wakes == [b"I"]
    run_master(mf_config, body)


def test_private_service_listens_under_private(mf_config, probe, run_master, until):
    """A service with private=y gets its wake-up channel in private/, not public/."""
    (mf_config / "master.cf").write_text("probe unix - - n - 1 probe\n")

    async def body(master):
        assert not kick(qdir_of(mf_config), "probe")
        assert kick(qdir_of(mf_config), "probe", b"W", klass="private")
        await until(lambda: probe.instances[0].wakes)
    run_master(mf_config, body)


def test_kick_fails_once_the_master_stopped(mf_config, probe, run_master):
    """After stop nobody listens: kick says so instead of blocking."""
    async def body(master):
        pass
    run_master(mf_config, body)
    assert kick(qdir_of(mf_config), "probe") is False


def test_wakeup_column_wakes_the_service_periodically(mf_config, probe, run_master, until):
    """master.cf's wakeup column makes the master send 'W' to the service."""
    (mf_config / "master.cf").write_text("probe unix n - n 1 1 probe\n")

    async def body(master):
        await until(lambda: probe.instances[0].wakes)
        assert probe.instances[0].wakes[0] == b"W"
    run_master(mf_config, body)


def test_service_whose_task_dies_is_restarted(mf_config, probe, run_master, until, caplog):
    """A crashed service task is logged and a fresh service instance is started."""
    caplog.set_level(logging.INFO, "mailflow.master")

    async def body(master):
        first = probe.instances[0]
        first.wake(b"crash")
        await until(lambda: len(probe.instances) == 2 and probe.instances[1].running)
        assert first.events == ["start", "stop"]
        assert master.services["probe"] is probe.instances[1]
    run_master(mf_config, body)
    messages = [r.getMessage() for r in caplog.records]
    assert "service probe: task died: RuntimeError: probe crashed" in messages
    assert any(m.startswith("service probe: restarting in ") for m in messages)
    assert "service probe: restarted" in messages


def test_unimplemented_services_are_skipped_with_one_warning(mf_config, probe, run_master, caplog):
    """master.cf services mailflow lacks are named in one warning; library ones silently skipped."""
    (mf_config / "master.cf").write_text(
        "probe unix n - n - 1 probe\n"
        "foo unix - - n - - nosuchdaemon\n"
        "cleanup unix n - n - 0 cleanup\n"
        "bar fifo n - n - 1 alsonot\n"
        "local unix - n n - - local\n")

    async def body(master):
        pass
    run_master(mf_config, body)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["master.cf: services not implemented yet, skipped: "
                        "foo/unix (nosuchdaemon), bar/fifo (alsonot)"]


def test_delivery_agents_are_transports_not_services(mf_config, probe, run_master):
    """Agent entries are handed to services as ctx.transports, never started as daemons."""
    (mf_config / "master.cf").write_text(
        "probe unix n - n - 1 probe\n"
        "local unix - n n - - local\n"
        "mytransport unix - n n - - pipe\n  flags=R argv=/bin/cat\n")
    seen = {}

    async def body(master):
        transports = probe.instances[0].ctx.transports
        seen["transports"] = {name: e.command for name, e in transports.items()}
        seen["services"] = sorted(master.services)
    run_master(mf_config, body)
    assert seen == {"transports": {"local": "local", "mytransport": "pipe"},
                    "services": ["probe"]}


def test_settings_naming_another_user_warn_once_when_not_root(mf_config, probe, run_master,
                                                              caplog, monkeypatch):
    """Not root: mail_owner, default_privs and pipe user= are ignored with one warning."""
    monkeypatch.setattr(master_mod.os, "geteuid", lambda: 4242)
    with open(mf_config / "main.cf", "a") as fh:
        fh.write("mail_owner = postfix\ndefault_privs = nobody\n")
    (mf_config / "master.cf").write_text(
        "probe unix n - n - 1 probe\n"
        "mytransport unix - n n - - pipe flags=R user=nobody argv=/bin/cat\n")

    async def body(master):
        pass
    run_master(mf_config, body)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("not running as root: ignoring mail_owner, default_privs, "
                                  "user= in mytransport/unix; mail is delivered as user ")


def test_reload_passes_new_config_and_starts_added_services(mf_config, probe, run_master, until):
    """reload: running services get reload(cfg) with the new values; new entries start."""
    async def body(master):
        first = probe.instances[0]
        (mf_config / "main.cf").write_text(
            f"queue_directory = {qdir_of(mf_config)}\nmyhostname = new.example.test\n")
        (mf_config / "master.cf").write_text(
            "probe unix n - n - 1 probe\nprobe2 unix n - n - 1 probe\n")
        await master.reload()
        assert first.events == ["start", "reload"]
        assert first.config.myhostname == "new.example.test"
        assert sorted(master.services) == ["probe", "probe2"]
    run_master(mf_config, body)


def test_reload_stops_removed_services(mf_config, probe, run_master):
    """reload: a service no longer in master.cf is stopped gracefully."""
    (mf_config / "master.cf").write_text("probe unix n - n - 1 probe\nprobe2 unix n - n - 1 probe\n")

    async def body(master):
        second = master.services["probe2"]
        (mf_config / "master.cf").write_text("probe unix n - n - 1 probe\n")
        await master.reload()
        assert second.events == ["start", "stop"]
        assert sorted(master.services) == ["probe"]
    run_master(mf_config, body)


def test_reload_with_a_bad_config_keeps_the_old_one(mf_config, probe, run_master, caplog):
    """A reload that finds a bad value logs it and changes nothing."""
    async def body(master):
        with open(mf_config / "main.cf", "a") as fh:
            fh.write("maximal_queue_lifetime = soon\n")
        await master.reload()
        assert probe.instances[0].events == ["start"]
        assert master.cfg.myhostname == "mx.example.test"
    run_master(mf_config, body)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "maximal_queue_lifetime = soon" in warnings[0]
    assert warnings[0].startswith("reload failed, keeping the old configuration: ")
    assert "main.cf, line 4: maximal_queue_lifetime = soon: not a time value" in warnings[0]


def test_stop_waits_for_in_flight_work(mf_config, probe, run_master):
    """A graceful stop returns only after the service's stop() finished its work."""
    finished = []

    async def slow_stop(self) -> None:
        await asyncio.sleep(0.05)       # in-flight work
        finished.append(True)
    probe.stop = slow_stop

    async def body(master):
        pass
    run_master(mf_config, body)
    assert finished == [True]


def test_bad_o_override_fails_start_naming_master_cf(mf_config, probe):
    """A bad -o value in master.cf stops the start with a message naming master.cf."""
    (mf_config / "master.cf").write_text("probe unix n - n - 1 probe -o message_size_limit=banana\n")
    with pytest.raises(ConfigError, match=r"master.cf, line 1: message_size_limit = banana"):
        asyncio.run(Master(str(mf_config), install_signals=False).run())
    assert probe.instances == []


def test_docs_examples_run():
    """The examples in docs/daemon.md run as shown."""
    import doctest
    from pathlib import Path
    page = Path(__file__).resolve().parents[2] / "docs" / "daemon.md"
    result = doctest.testfile(str(page), module_relative=False, verbose=False)
    assert (result.failed, result.attempted > 0) == (0, True)


def test_on_config_sees_each_configuration_loaded(mf_config, probe, run_master):
    """on_config gets the start configuration and the reloaded one (logging follows reloads)."""
    seen = []

    async def body(master):
        with open(mf_config / "main.cf", "a") as fh:
            fh.write("maillog_file = /dev/stdout\n")
        await master.reload()
    run_master(mf_config, body, on_config=lambda cfg: seen.append(cfg.maillog_file))
    assert seen == ["", "/dev/stdout"]


def test_worker_process_model_without_a_worker_count_runs_in_process(mf_config, probe,
                                                                    run_master, caplog):
    """A service registered for worker processes, with no <command>_worker_processes
    above 0 (a unix service, here), runs in process, without a warning."""
    from mailflow.services.skeleton import ProcessModel, register_service
    register_service("probe", probe, process_model=ProcessModel.WORKERS)

    async def body(master):
        assert isinstance(master.services["probe"], probe)
    run_master(mf_config, body)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == []


def test_restart_back_off_doubles_while_a_service_keeps_dying(mf_config, probe, run_master,
                                                              until, caplog):
    """Each quick death doubles the wait before the next restart (Postfix's throttling)."""
    caplog.set_level(logging.INFO, "mailflow.master")

    async def body(master):
        for n in (1, 2):
            probe.instances[-1].wake(b"crash")
            await until(lambda: len(probe.instances) == n + 1 and probe.instances[-1].running)
    run_master(mf_config, body)
    delays = [m.getMessage() for m in caplog.records if "restarting in" in m.getMessage()]
    assert delays == ["service probe: restarting in 0.1s -- throttling",
                      "service probe: restarting in 0.2s -- throttling"]


def test_user_registered_agent_is_a_transport(mf_config, probe, run_master, caplog):
    """A master.cf command registered as a delivery agent becomes a transport, not a warning."""
    from mailflow.delivery.registry import register_agent, unregister_agent
    register_agent("myagent", lambda cfg, service: None)
    (mf_config / "master.cf").write_text("probe unix n - n - 1 probe\n"
                                         "special unix - n n - - myagent\n")
    try:
        async def body(master):
            assert list(master.transports) == ["special"]
        run_master(mf_config, body)
    finally:
        unregister_agent("myagent")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
