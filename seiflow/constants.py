"""Names shared across seiflow: files, collections, GridFS buckets and FireWorks job categories."""

from enum import StrEnum

SETTINGS_FILE = "seiflow.yaml"
LAUNCHPAD_FILE = "launchpad.yaml"
FWORKER_FILE = "my_fworker.yaml"


class JobCategory(StrEnum):
    """FireWorks ``_category`` of a job: which workers (``my_fworker.yaml``) pull it."""

    DFT = "dft"  # labelling: reference MD, AIMD, statics (VASP, CP2K, local references)
    TRAIN = "train"  # DeePMD training, freeze, compress, dp test (GPU nodes)
    LAMMPS = "lammps"  # exploration, like-for-like NNP MD and the closing analysis
    LIGHT = "light"  # selection, round control, reports (seconds each)
    PRODUCTION = "production"  # production MD segments (hours each, GPU nodes with the CUDA DeePMD-kit)


# Collections in the LaunchPad's database (seiflow keeps everything on one database).
FRAMES_COLLECTION = "frames"
MODELS_COLLECTION = "models"
ROUNDS_COLLECTION = "rounds"
CAMPAIGNS_COLLECTION = "campaigns"
ANALYSES_COLLECTION = "analyses"
VALIDATION_SETS_COLLECTION = "validation_sets"  # per campaign: the validation MD's start structures and settings
VALIDATIONS_COLLECTION = "validations"  # per campaign and round: errors and dynamics on the validation set
TEST_SETS_COLLECTION = "test_sets"  # per campaign: the independent test MD's start structures and settings
TEST_RESULTS_COLLECTION = "test_results"  # per campaign and round: the reported models' errors and dynamics on it
CALIBRATIONS_COLLECTION = "calibrations"  # per campaign and round: deviation/true-error pairs, fit, levels
PRODUCTION_RUNS_COLLECTION = "production_runs"  # per production run: cell, model, progress, state
PRODUCTION_COLLECTION = "production"  # per production segment: steps, speed, watch, SEI descriptors
PROPERTIES_COLLECTION = "properties"  # properties stages: diffusion runs, Arrhenius fits, elastic constants
JOBSTORE_DOCS_COLLECTION = "jobflow_outputs"

# GridFS buckets.
JOBSTORE_DATA_BUCKET = "jobflow_data"  # large job outputs (explored structures)
ARRAYS_BUCKET = "arrays"  # frame arrays above the inline limit
MODELS_BUCKET = "models"  # model files (frozen, compressed, checkpoint, parity)
PRODUCTION_BUCKET = "production_files"  # production restart files, trajectories and logs, per segment
TRAJECTORIES_BUCKET = "trajectories"  # reference MD trajectories (gzipped vasprun.xml, CP2K xyz)

EMBEDDED_HOST = "127.0.0.1"
EMBEDDED_PORT = 27101
EMBEDDED_PID_FILE = "secantusd.pid"
EMBEDDED_LOG_FILE = "secantusd.log"
EMBEDDED_OWNER_DB = "seiflow_server"  # database of the embedded server's owner record (its storage folder)

EV_A3_TO_MPA = 160_217.66208  # 1 eV/Å^3 in MPa
