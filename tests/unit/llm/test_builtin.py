"""The built-in offline reviewer: each rule on added lines only, at the right line."""

from __future__ import annotations

import pytest

from ai_code_reviewer.llm.base import Reviewer
from ai_code_reviewer.llm.builtin import RULES, BuiltinReviewer
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.model import Diff, ReviewResult, Skipped

# Made up, and assembled at run time so that this file does not hold a token.
TOKEN = "ghp_" + "R7tK2mQ9xV4bN8cL1zP6wS3yH5jD0fG2aE4u"


def file_diff(path: str, *body: str, start: int = 10) -> str:
    """Return the git diff of one hunk of ``body`` lines (with +/-/space marks)."""
    old = sum(1 for line in body if not line.startswith("+"))
    new = sum(1 for line in body if not line.startswith("-"))
    header = [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}"]
    hunk = [f"@@ -{start},{old} +{start},{new} @@", *body]
    return "\n".join(header + hunk) + "\n"


def around(line: str, mark: str) -> tuple[str, ...]:
    """Put ``line`` with ``mark`` after two context lines and a removed one."""
    return (" first = 1", " second = 2", "-gone = 3", f"{mark}{line}", " last = 4")


async def review(text: str) -> ReviewResult:
    """Return the built-in review of the diff ``text``."""
    return await BuiltinReviewer().review(parse_unified_diff(text))


EVAL = "Code run from a string"
SHELL = "Command run through a shell"
SQL = "SQL built from strings"
TLS = "TLS certificate check turned off"
BREAK = "Breakpoint left in"
DEBUG = "Debug output left in"
TODO = "Unfinished work noted"
SECRET = "Secret in the code (github token)"

# (finding title, file path, a line that breaks the rule)
CASES = [
    (EVAL, "app/plugin.py", "result = eval(expression)"),
    (EVAL, "app/plugin.py", "exec(source, namespace)"),
    (EVAL, "web/calc.js", "const value = eval(input);"),
    (EVAL, "web/calc.ts", "const f = new Function('a', body);"),
    (SHELL, "ops/run.py", "subprocess.run(cmd, shell=True)"),
    (SHELL, "ops/run.py", 'os.system("rm -rf " + path)'),
    (SHELL, "ops/run.py", "out = os.popen(command).read()"),
    (SHELL, "srv/git.js", "exec('git log ' + branch, done);"),
    (SHELL, "srv/git.js", "child_process.exec(`ls ${dir}`);"),
    (SQL, "db/q.py", 'cur.execute(f"SELECT * FROM t WHERE id={i}")'),
    (SQL, "db/q.py", 'q = "DELETE FROM t WHERE id=%s" % item_id'),
    (SQL, "db/q.py", 'q = "UPDATE t SET a = " + value'),
    (SQL, "db/q.py", 'q = "INSERT INTO t VALUES ({})".format(v)'),
    (SQL, "db/q.ts", "db.query(`SELECT a FROM t WHERE b = ${b}`);"),
    (SQL, "db/q.go", 'q := fmt.Sprintf("SELECT a FROM t WHERE b=%d", b)'),
    (TLS, "net/get.py", "requests.get(url, verify=False)"),
    (TLS, "net/get.js", "agent({ rejectUnauthorized: false })"),
    (TLS, "net/get.go", "tls.Config{InsecureSkipVerify: true}"),
    (TLS, "net/get.php", "curl_setopt($c, CURLOPT_SSL_VERIFYPEER, false);"),
    (BREAK, "app/core.py", "import pdb; pdb.set_trace()"),
    (BREAK, "app/core.py", "breakpoint()"),
    (BREAK, "web/app.js", "debugger;"),
    (DEBUG, "app/core.py", "print(user)"),
    (DEBUG, "web/app.js", "console.log(state);"),
    (TODO, "app/core.py", "# TODO: handle the empty list"),
    (TODO, "docs/guide.md", "FIXME: add the diagram"),
    (TODO, "web/app.js", "render(); // TODO: cache it"),
    (SECRET, "conf/app.py", f"TOKEN = '{TOKEN}'"),
]


@pytest.mark.parametrize(("title", "path", "line"), CASES)
async def test_rule_fires_on_an_added_line_at_its_new_number(
    title: str, path: str, line: str
) -> None:
    """The finding sits on the added line's number in the new file (12 here)."""
    result = await review(file_diff(path, *around(line, "+")))

    assert (path, 12, title) in [(f.path, f.line, f.title) for f in result.findings]


@pytest.mark.parametrize(("title", "path", "line"), CASES)
@pytest.mark.parametrize("mark", ["-", " "])
async def test_rule_ignores_removed_and_context_lines(
    title: str, path: str, line: str, mark: str
) -> None:
    """The same line, removed or left as context, makes no finding."""
    body = (*around(line, mark), "+added = 5")

    result = await review(file_diff(path, *body))

    assert result.findings == ()


NEAR_MISSES = [
    ("app/a.py", "value = ast.literal_eval(text)"),
    ("app/a.py", "def eval(self, node):"),
    ("web/a.js", "const match = pattern.exec(line + suffix);"),
    ("db/q.py", 'cur.execute("SELECT * FROM t WHERE id = %s", (item_id,))'),
    ("app/a.py", 'message = "Please select a file from the list: " + name'),
    ("app/a.py", "session.verify = certifi.where()"),
    ("app/a.py", "logger.info('printed')"),
    ("app/a.py", "# see todo.md for the plan"),
    ("app/a.py", 'summary = "It looks for debug leftovers and TODO notes."'),
    ("app/a.py", "token = os.environ['GITHUB_TOKEN']"),
]


@pytest.mark.parametrize(("path", "line"), NEAR_MISSES)
async def test_lines_that_only_look_like_a_rule_make_no_finding(
    path: str, line: str
) -> None:
    """Safe code that resembles a rule's pattern is left alone."""
    result = await review(file_diff(path, f"+{line}"))

    assert result.findings == ()


async def test_clean_diff_has_no_findings_and_says_what_was_checked() -> None:
    """A harmless change gives no finding and a summary naming the offline reviewer."""
    text = file_diff("app/a.py", "+x = 1", "+y = 2") + file_diff("app/b.py", "-z = 3")

    result = await review(text)

    assert result.findings == ()
    assert "built-in offline reviewer" in result.summary
    assert "no language model is configured" in result.summary
    assert "2 added lines in 1 of 2 changed files" in result.summary
    assert (result.provider, result.model) == ("builtin", "builtin-rules-1")


async def test_secret_finding_never_holds_the_secret() -> None:
    """A secret makes a critical security finding without its value anywhere."""
    result = await review(file_diff("conf/app.py", f"+TOKEN = '{TOKEN}'"))

    [finding] = result.findings
    assert (finding.severity, finding.category) == ("critical", "security")
    assert TOKEN not in repr(finding)
    assert TOKEN not in result.summary


async def test_private_key_over_several_added_lines_is_one_finding() -> None:
    """A key block split over added lines is found once, on its BEGIN line."""
    body = [
        "+-----BEGIN EC " + "PRIVATE KEY-----",
        "+MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oG3aXn8zfTQZoAoGCCqGSM49",
        "+-----END EC " + "PRIVATE KEY-----",
    ]

    result = await review(file_diff("deploy/key.pem", " header", *body, start=4))

    assert [(f.line, f.title) for f in result.findings] == [
        (5, "Secret in the code (private key)")
    ]


async def test_debug_output_in_tests_is_allowed() -> None:
    """print in a test file and console.log in a spec file are not findings."""
    text = file_diff("tests/unit/test_x.py", "+print(result)")
    text += file_diff("web/app.spec.ts", "+console.log(state);")

    result = await review(text)

    assert result.findings == ()


async def test_findings_are_ordered_by_path_then_line() -> None:
    """Findings of several files come sorted by path, then line."""
    text = file_diff("b.py", "+x = eval(s)", "+# TODO", start=1)
    text += file_diff("a.py", "+y = 1", "+z = eval(t)", start=1)

    result = await review(text)

    assert [(f.path, f.line) for f in result.findings] == [
        ("a.py", 2),
        ("b.py", 1),
        ("b.py", 2),
    ]


async def test_binary_files_are_listed_as_skipped() -> None:
    """A binary file cannot be read, so the review says it was skipped."""
    text = "diff --git a/logo.png b/logo.png\n"
    text += "Binary files a/logo.png and b/logo.png differ\n"

    result = await review(text)

    assert result.skipped == (Skipped("logo.png", "binary file"),)
    assert "0 added lines in 0 of 1 changed file" in result.summary


async def test_it_is_a_reviewer_and_every_rule_is_documented() -> None:
    """The class meets the Reviewer interface; each rule has a title and a body."""
    reviewer: Reviewer = BuiltinReviewer()

    result = await reviewer.review(Diff(files=()))

    assert result.findings == ()
    assert all(rule.title and rule.body.endswith(".") for rule in RULES)
    assert len({rule.name for rule in RULES}) == len(RULES)
