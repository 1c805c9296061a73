import gzip
import json

from click.testing import CliRunner

from cli import cli
from search.evaluation import is_reprint, score_related

STORY = "市交通部门开通十条复工专线，企业可以根据员工上下班时间提出需求，实行点对点定制接送服务。"
OTHER = "南岳衡山景区推行分时预约，游客需要提前一天在网上预约门票，每天限量接待三万人次。"


def test_a_reprint_is_a_near_copy_of_the_body_not_a_shared_title():
    assert is_reprint(STORY, "（转载）" + STORY + "记者王芳")  # the same body with a line added
    assert not is_reprint(STORY, OTHER)  # a recurring column title with another body is another article
    assert not is_reprint(STORY, "")


def test_related_scores_count_unjudged_as_misses_and_report_seeds_and_reprints():
    seeds = [("t1", "s1"), ("t2", "s2")]
    qrels = {"t1": {"a": 2, "b": 1, "c": 0}, "t2": {"d": 2}}
    shown = {"s1": ["a", "b", "c", "x", "r"], "s2": ["s2", "d"]}
    bodies = {"s1": STORY, "r": STORY + "。", "a": OTHER, "b": OTHER, "c": OTHER, "x": OTHER, "s2": OTHER, "d": STORY}
    assert score_related(seeds, qrels, shown, bodies) == {
        "seeds": 2,
        "on_topic@5": 0.3,  # a, b, d of 10 slots
        "precision_judged": 0.75,  # c judged off-topic
        "judged_share": 0.4,
        "seed_shown": 1,
        "reprints_shown": 1,
        "seeds_with_reprint": 1,
    }


def test_eval_related_command(tmp_path):
    task = tmp_path / "task"
    task.mkdir()
    articles = [
        {"id": "s1", "title": "城区公交开通复工专线", "body": STORY, "channel": "交通"},
        {"id": "r1", "title": "城区公交开通复工专线", "body": STORY + "（来源：衡阳新闻网）", "channel": "交通"},
        {
            "id": "a1",
            "title": "城区公交再开通五条复工专线",
            "body": "城区公交再开通五条复工专线，企业员工上下班定制接送覆盖更多园区。",
            "channel": "交通",
        },
        {"id": "o1", "title": "南岳衡山分时预约", "body": OTHER, "channel": "旅游"},
    ]
    with gzip.open(task / "corpus.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in articles)
    (task / "seeds.tsv").write_text("t1\ts1\n", encoding="utf-8")
    (task / "qrels.txt").write_text("t1 0 s1 2\nt1 0 r1 2\nt1 0 a1 2\nt1 0 o1 0\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval-related", str(task), "--json", "--keep-index", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # r1 is a reprint of the seed: folded away; a1 is on topic; o1 (judged off-topic) may fill the box
    assert (data["seeds"], data["seed_shown"], data["reprints_shown"], data["on_topic@5"]) == (1, 0, 0, 0.2)
