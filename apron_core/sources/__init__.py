"""Real data: one generic input format, its adapters, and the step that prepares it.

    generic      the source folder format: write_source / read_source (+ Embeddings)
    msd          Million Song Dataset → source (msd_to_source, streaming the triplets)
    world        the demo world → source (world_to_source, world_prepare_config)
    lastfm_tags  Last.fm tag strings → the 80 APRON tags (assets/lastfm_tag_map.json)
    prepare      source → prepared folder: features, filter, split, catalog, prototypes
    prepared     the prepared folder and load_prepared_dataset (training reads it)
    features     raw encoder features of a source's songs (via apron_core.embed_folder)
    clips        prototypes on real data: tag fallbacks, clips cut from previews
    split        apron_core.data's split on compact stand-in ids (memory at MSD size)
    report       PrepLog: what each stage kept and dropped, and why; timings
    synthetic_msd  MSD-format files of any size, for benchmarks and tests

Submodules are imported on use; this package imports nothing heavy by itself.
"""
