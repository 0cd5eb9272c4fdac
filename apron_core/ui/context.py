"""What every session shares, built once at start-up and read-only afterwards: the
engine, the catalog rows the lists show, the prototype clips, the song renderer and the
app's settings. Nothing per user lives here (that is `state.Session`, in gr.State)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apron_core.bundle import DemoListener
from apron_core.engine import Engine
from apron_core.errors import ConfigError
from apron_core.ui.audio import AudioConfig, SongAudio, find_prototype_dir, prototype_clips
from apron_core.ui.disk import Folder, FolderCap, private_folder
from apron_core.ui.files import PLOTLY_JS
from apron_core.ui.limits import Limits
from apron_core.ui.song_lists import SongInfo, song_table


@dataclass(frozen=True)
class AppConfig:
    bundle_dir: Path = Path("assets/demo")
    prototype_dir: Path | None = None  # None: <bundle>/prototypes or <bundle>/../prototypes
    k: int = 20  # recommendations shown
    search_limit: int = 15  # catalog search results shown
    max_query_chars: int = 100
    export_dir: Path | None = None  # None: a private folder of this process (ui/disk.py)
    export_max_age_s: float = 3600.0
    export_max_files: int = 500
    export_max_bytes: int = 20_000_000
    # Gradio's upload folder, pruned by the app when it is this process's own (app.py
    # makes it so); None: not pruned (it may be shared with other apps)
    upload_dir: Path | None = None
    upload_max_age_s: float = 3600.0
    upload_max_files: int = 2000
    upload_max_bytes: int = 2_000_000_000
    audio: AudioConfig = field(default_factory=AudioConfig)
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 100:
            raise ConfigError(f"k={self.k} must be between 1 and 100 recommendations")
        if self.search_limit < 1 or self.max_query_chars < 1:
            raise ConfigError("search_limit and max_query_chars must be positive")
        _ = (self.export_cap, self.upload_cap)  # a bad cap fails here, not at the first prune

    @property
    def export_cap(self) -> FolderCap:
        return FolderCap(self.export_max_bytes, self.export_max_files, self.export_max_age_s)

    @property
    def upload_cap(self) -> FolderCap:
        return FolderCap(self.upload_max_bytes, self.upload_max_files, self.upload_max_age_s)


@dataclass(frozen=True)
class AppContext:
    engine: Engine
    config: AppConfig
    songs: dict[str, SongInfo]
    listeners: dict[str, DemoListener]
    clips: dict[int, Path]  # tag index → prototype clip
    prototype_dir: Path | None
    audio: SongAudio
    search_text: tuple[tuple[str, str], ...]  # (song id, lower-case title/artist/tags)
    export_dir: Path  # where exported profiles are written (config.export_dir resolved)

    @classmethod
    def build(cls, engine: Engine, config: AppConfig | None = None) -> AppContext:
        config = config or AppConfig()
        bundle = engine.bundle
        catalog = bundle.catalog
        folder = config.prototype_dir or find_prototype_dir(bundle.path)
        folder = Path(folder).resolve() if folder is not None else None
        specs = (
            dict(zip(catalog["song_id"].astype(str), catalog["spec"], strict=True))
            if ("spec" in catalog)
            else dict.fromkeys(catalog["song_id"].astype(str))
        )
        songs = song_table(catalog)
        search = tuple(
            (sid, " ".join([sid, s.title, s.artist, str(s.year or ""), *s.tags]).lower())
            for sid, s in songs.items()
        )
        return cls(
            engine=engine,
            config=config,
            songs=songs,
            listeners={d.listener_id: d for d in bundle.demo_listeners},
            clips=prototype_clips(bundle.prototypes, folder),
            prototype_dir=folder,
            audio=SongAudio(specs, config.audio),
            search_text=search,
            export_dir=Path(config.export_dir or private_folder("exports")).resolve(),
        )

    @property
    def audio_note(self) -> str:
        """Empty when songs can be played; else the reason shown above the lists."""
        return "" if self.audio.available else f"Audio is off: {self.audio.reason}"

    def folders(self) -> list[Folder]:
        """The folders the app writes, each with its cap (pruned by `janitor.Janitor`)."""
        folders = [
            Folder(self.audio.folder, self.config.audio.cache_cap),
            Folder(self.export_dir, self.config.export_cap),
        ]
        if self.config.upload_dir is not None:
            folders.append(Folder(Path(self.config.upload_dir), self.config.upload_cap))
        return folders

    def static_paths(self) -> list[Path]:
        """The only folders (and one file) the page may fetch: rendered songs, prototype
        clips, plotly.js."""
        paths = [self.audio.folder, PLOTLY_JS]
        if self.prototype_dir is not None:
            paths.append(self.prototype_dir)
        return paths
