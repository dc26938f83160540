"""Generate realistic French development plans for the sync benchmark.

    .venv/bin/python benchmarks/generate.py OUT_DIR [--plans 1000] [--seed 1]

Each plan follows the documented format (title, version line, 4–8 ``## Phase N: Nom`` with
their ``*Progression: x%*``, ``### N.M`` subsections, ``- [x] **1.2.3** Texte`` tasks nested
0–3 levels with 2-space indentation), with a few code fences, estimates, due dates and
emoji. About 90 tasks and 6.6 KB a plan, so 1,000 plans make ~90k tasks and ~6.6 MB, in
subfolders of 100 plans. Declared progress figures agree with the checkboxes, so the plans
validate cleanly. The output depends only on ``--seed`` (and plan ``i`` of a seed is the same
whatever ``--plans``).
"""

from __future__ import annotations

import argparse
import random
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GeneratedStats", "generate", "render_plan"]

PLANS_PER_FOLDER = 100

TOPICS = [
    "API Gateway",
    "Migration PostgreSQL",
    "Notifications temps réel",
    "Refonte authentification",
    "Moteur de recherche",
    "Pipeline CI/CD",
    "Stack d'observabilité",
    "Application mobile",
    "Facturation récurrente",
    "Portail partenaires",
    "Entrepôt de données",
    "Gestion des consentements RGPD",
    "Plateforme de paiement",
    "Catalogue produits",
    "Messagerie interne",
    "Tableau de bord commercial",
    "Cache distribué",
    "Service d'export PDF",
    "Synchronisation hors ligne",
    "Moteur de règles tarifaires",
    "Gestion des stocks",
    "Annuaire LDAP",
    "Archivage légal",
    "Traduction automatique",
    "Planification des tournées",
    "Signature électronique",
    "Détection de fraude",
    "Migration Kubernetes",
    "Refonte du back-office",
    "Chatbot support client",
]
QUALIFIERS = ["", "", "", " v2", " - lot 2", " (phase pilote)", " multi-tenant", " 2026"]
PHASE_NAMES = [
    "Cadrage et architecture",
    "Socle technique",
    "Modèle de données",
    "Développement du cœur",
    "Intégrations externes",
    "Sécurité et conformité",
    "Performance et résilience",
    "Interface utilisateur",
    "Tests et qualité",
    "Migration des données",
    "Observabilité",
    "Documentation et formation",
    "Pilote utilisateurs",
    "Mise en production",
    "Exploitation et amélioration continue",
]
SECTION_NAMES = [
    "Analyse de l'existant",
    "Choix techniques",
    "Modélisation",
    "Mise en place",
    "Implémentation",
    "Intégration continue",
    "Tests automatisés",
    "Sécurité",
    "Supervision",
    "Déploiement",
    "Recette",
    "Documentation",
    "Migration",
    "Optimisation",
    "Accessibilité",
    "Conduite du changement",
]
VERBS = [
    "Implémenter",
    "Documenter",
    "Tester",
    "Valider",
    "Configurer",
    "Déployer",
    "Mesurer",
    "Refactoriser",
    "Automatiser",
    "Migrer",
    "Auditer",
    "Rédiger",
    "Optimiser",
    "Superviser",
    "Sécuriser",
    "Prototyper",
    "Intégrer",
    "Versionner",
    "Chiffrer",
    "Paralléliser",
]
OBJECTS = [
    "le schéma de la base",
    "la table de routage",
    "le middleware d'authentification",
    "les index de recherche",
    "le cache des sessions",
    "la file de messages",
    "le service de notifications",
    "les webhooks sortants",
    "le connecteur SAP",
    "l'export CSV des commandes",
    "le tableau de bord Grafana",
    "les alertes Prometheus",
    "le pipeline de build",
    "les migrations SQL",
    "le client HTTP interne",
    "la politique de rétention",
    "les quotas par client",
    "le journal d'audit",
    "la page de connexion",
    "le formulaire de paiement",
    "les traductions de l'interface",
    "le moteur de templates",
    "les sauvegardes nocturnes",
    "le certificat TLS",
    "la configuration Terraform",
    "les charts Helm",
    "le job de réconciliation",
    "l'API de facturation",
    "le module de rapprochement bancaire",
    "les droits d'accès",
]
COMPLEMENTS = [
    "",
    "",
    "",
    "",
    " pour l'environnement de recette",
    " avec rechargement à chaud",
    " côté serveur",
    " en mode dégradé",
    " derrière un feature flag",
    " sur le cluster de production",
    " avec des tests de charge",
    " selon l'ADR-012",
    " pour les clients entreprise",
    " sans interruption de service",
    " en lien avec l'équipe sécurité",
    " avant la démo du sprint",
    " (retour du pilote)",
    " et la relecture croisée",
]
DETAILS = [
    "Cas nominal",
    "Cas d'erreur réseau",
    "Valeurs limites",
    "Reprise après incident",
    "Journalisation des erreurs",
    "Métriques exposées",
    "Validation des entrées",
    "Gestion des fuseaux horaires",
    "Compatibilité ascendante",
    "Jeu de données de test",
    "Revue de code",
    "Mise à jour du runbook",
]
EMOJI = ["🚀", "⚠️", "🔒", "🐛", "📈", "🧪", "🔧", "💡", "📦", "🌍"]
ESTIMATES = ["(1h)", "(2h)", "(4h)", "(½j)", "(1d)", "(2d)", "(3d)", "(1 sem)"]
INTROS = [
    "Ce plan décrit la mise en place de {topic} pour l'ensemble des équipes produit. "
    "Objectif : livrer une première version exploitable avant la fin du trimestre, "
    "sans régression sur les services existants.",
    "Le chantier {topic} remplace une solution maison devenue difficile à maintenir. "
    "Les phases ci-dessous suivent l'ordre de dépendance validé en comité d'architecture.",
    "Suite à l'audit de septembre, {topic} est devenu prioritaire. Ce document suit "
    "l'avancement tâche par tâche ; il est mis à jour à chaque revue de sprint.",
]
NOTES = [
    "Les estimations incluent la revue de code et la mise à jour de la documentation.",
    "Point d'attention : ne pas démarrer cette section avant la validation du schéma.",
    "Voir le ticket associé dans le tableau Kanban de l'équipe pour le détail.",
]
FENCES = [
    (
        "Pour reproduire en local :",
        "bash",
        [
            "# démarrer les dépendances",
            "docker compose up -d postgres redis",
            "make migrate && make seed",
            "curl -i http://localhost:8080/health",
        ],
    ),
    (
        "Configuration retenue :",
        "yaml",
        [
            "service:",
            "  name: {slug}",
            "  replicas: 3",
            "  timeout_ms: 1500",
            "  retry:",
            "    attempts: 4",
        ],
    ),
    (
        "Requête de contrôle après migration :",
        "sql",
        [
            "SELECT statut, count(*)",
            "FROM commandes",
            "WHERE cree_le >= now() - interval '7 days'",
            "GROUP BY statut ORDER BY 2 DESC;",
        ],
    ),
    (
        "Exemple d'appel :",
        "python",
        [
            "client = Client(base_url=URL, timeout=5)",
            "reponse = client.post('/v1/jobs', json={{'type': 'export'}})",
            "assert reponse.status_code == 202",
        ],
    ),
]


@dataclass(frozen=True, slots=True)
class GeneratedStats:
    """What ``generate`` wrote."""

    files: int
    tasks: int
    bytes: int

    @property
    def megabytes(self) -> float:
        return self.bytes / 1e6


@dataclass(slots=True)
class _Task:
    text: str
    done: bool
    children: list[_Task] = field(default_factory=list)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    return "-".join(words)


def _task_text(rng: random.Random) -> str:
    text = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(COMPLEMENTS)}"
    roll = rng.random()
    if roll < 0.25:
        text += f" {rng.choice(ESTIMATES)}"
    elif roll < 0.32:
        text += f" 📅 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if rng.random() < 0.07:
        text = f"{text} {rng.choice(EMOJI)}"
    return text


def _subtask_text(rng: random.Random) -> str:
    text = rng.choice(DETAILS)
    if rng.random() < 0.3:
        text += f" : {rng.choice(OBJECTS)}"
    if rng.random() < 0.15:
        text += f" {rng.choice(ESTIMATES)}"
    return text


def _make_tasks(rng: random.Random, count: int, done_rate: float) -> list[_Task]:
    """``count`` tasks in trees 0–3 levels deep; a parent is done only if all its children are."""
    roots: list[_Task] = []
    made = 0
    while made < count:
        root = _Task(_task_text(rng), rng.random() < done_rate)
        roots.append(root)
        made += 1
        stack: list[tuple[_Task, int]] = [(root, 0)]
        while stack and made < count:
            parent, depth = stack.pop()
            if depth >= 3:
                continue
            chance = (0.35, 0.3, 0.25)[depth]
            if rng.random() >= chance:
                continue
            for _ in range(rng.randint(1, 3)):
                if made >= count:
                    break
                child = _Task(_subtask_text(rng), rng.random() < done_rate)
                parent.children.append(child)
                made += 1
                stack.append((child, depth + 1))
    for root in roots:
        _settle(root)
    return roots


def _settle(task: _Task) -> bool:
    children_done = [_settle(child) for child in task.children]
    if not all(children_done):
        task.done = False
    elif task.children and all(children_done):
        task.done = True
    return task.done


def _count(tasks: list[_Task]) -> tuple[int, int]:
    total = done = 0
    for task in tasks:
        sub_total, sub_done = _count(task.children)
        total += 1 + sub_total
        done += int(task.done) + sub_done
    return total, done


def _emit(tasks: list[_Task], number: str, depth: int, lines: list[str]) -> None:
    for index, task in enumerate(tasks, 1):
        label = f"{number}.{index}"
        mark = "x" if task.done else " "
        lines.append(f"{'  ' * depth}- [{mark}] **{label}** {task.text}")
        _emit(task.children, label, depth + 1, lines)


def _split(rng: random.Random, total: int, parts: int, low: int) -> list[int]:
    """``total`` split into ``parts`` positive integers, each at least ``low``."""
    weights = [rng.uniform(0.6, 1.4) for _ in range(parts)]
    scale = (total - low * parts) / sum(weights)
    sizes = [low + int(weight * scale) for weight in weights]
    sizes[rng.randrange(parts)] += total - sum(sizes)
    return sizes


def render_plan(seed: int, index: int) -> tuple[str, str, int]:
    """Plan ``index`` (0-based) of ``seed``: (file name, Markdown text, task count)."""
    rng = random.Random(f"sync-engine-bench:{seed}:{index}")
    number = index + 1
    topic = rng.choice(TOPICS) + rng.choice(QUALIFIERS)
    slug = _slug(topic)
    task_total = rng.randint(76, 104)
    phase_count = rng.randint(4, 8)
    advancement = rng.random()  # how far along the plan is: early phases are done first
    phase_names = rng.sample(PHASE_NAMES, phase_count)

    body: list[str] = []
    phase_figures: list[tuple[int, int]] = []
    fences = rng.sample(FENCES, rng.choice([0, 1, 1, 2, 2, 3]))
    for phase_number, (phase_name, phase_tasks) in enumerate(
        zip(phase_names, _split(rng, task_total, phase_count, 6), strict=True), 1
    ):
        position = (phase_number - 0.5) / phase_count
        done_rate = min(1.0, max(0.0, (advancement - position) * 2.5 + 0.5))
        section_count = max(1, min(4, phase_tasks // rng.randint(7, 12)))
        sections: list[list[str]] = []
        section_names = rng.sample(SECTION_NAMES, section_count)
        phase_total = phase_done = 0
        for section_number, section_tasks in enumerate(
            _split(rng, phase_tasks, section_count, 3), 1
        ):
            tasks = _make_tasks(rng, section_tasks, done_rate)
            total, done = _count(tasks)
            phase_total += total
            phase_done += done
            name = section_names[section_number - 1]
            lines = [f"### {phase_number}.{section_number} {name}", ""]
            _emit(tasks, f"{phase_number}.{section_number}", 0, lines)
            if fences and rng.random() < 0.2:
                caption, language, code = fences.pop()
                lines += ["", caption, "", f"```{language}"]
                lines += [line.format(slug=slug) for line in code]
                lines.append("```")
            elif rng.random() < 0.12:
                lines += ["", rng.choice(NOTES)]
            lines.append("")
            sections.append(lines)
        percent = round(100 * phase_done / phase_total)
        phase_figures.append((phase_total, phase_done))
        title = phase_name + (" 🚀" if phase_number == phase_count and rng.random() < 0.3 else "")
        body += [f"## Phase {phase_number}: {title}", "", f"*Progression: {percent}%*", ""]
        for lines in sections:
            body += lines

    tasks_total = sum(total for total, _ in phase_figures)
    tasks_done = sum(done for _, done in phase_figures)
    version = f"{rng.randint(1, 3)}.{rng.randint(0, 9)}"
    date = f"2026-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
    head = [
        f"# Plan de développement v{number} - {topic}",
        "",
        f"**Version {version} - {date} - Progression: {round(100 * tasks_done / tasks_total)}%**",
        "",
        rng.choice(INTROS).format(topic=topic),
        "",
    ]
    text = "\n".join(head + body).rstrip("\n") + "\n"
    return f"plan-dev-v{number}-{slug}.md", text, tasks_total


def generate(out_dir: Path, plans: int, seed: int) -> GeneratedStats:
    """Write ``plans`` plans under ``out_dir`` (made if missing; must be empty)."""
    if plans < 0:
        raise ValueError(f"plans must be at least 0, not {plans}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty")
    tasks = size = 0
    for index in range(plans):
        name, text, count = render_plan(seed, index)
        folder = out_dir / f"lot-{index // PLANS_PER_FOLDER + 1:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        (folder / name).write_bytes(data)
        tasks += count
        size += len(data)
    return GeneratedStats(files=plans, tasks=tasks, bytes=size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument("--plans", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        stats = generate(args.out_dir, args.plans, args.seed)
    except (FileExistsError, ValueError) as error:
        print(f"generate.py: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(
        f"{stats.files} plans, {stats.tasks} tasks, {stats.megabytes:.2f} MB "
        f"in {args.out_dir} (seed {args.seed})"
    )


if __name__ == "__main__":
    main()
