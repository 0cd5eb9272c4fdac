"""Real data and the demo world alike: one generic input format, its adapters, and the one
step that prepares it for training.

    generic      the source folder format: write_source / read_source (+ Embeddings, clips)
    msd          Million Song Dataset → source (msd_to_source, streaming the triplets)
    lastfm_tags  Last.fm tag strings → the 80 APRON tags (assets/lastfm_tag_map.json)
    prepare      source → prepared folder: features, filter, split, catalog, prototypes
    prepared     the prepared folder's layout (apron_core.dataset.load_dataset reads it)
    features     raw encoder features of a source's songs (via apron_core.embed_folder)
    clips        prototypes: tag fallbacks, clips cut from audio
    split        apron_core.data's split on compact stand-in ids (memory at MSD size)
    report       PrepLog: what each stage kept and dropped, and why; timings

The demo world writes a source too (apron_core.world.build); nothing here imports it.
Submodules are imported on use; this package imports nothing heavy by itself.
"""
